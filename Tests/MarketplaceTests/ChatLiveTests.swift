import Foundation
import Hummingbird
import HummingbirdTesting
import MarketplaceChat
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceMessaging
import MarketplaceRealtime
import Testing

/// Chat end to end: REST → MongoDB + outbox (the event and its channel publications) → the relay
/// → the fan-out topic → the gateway → a client; job events → the chat worker → system entries.
/// One side is Centrifugo's Python SDK. No bridge worker runs: chat does not need it.
@Suite("Chat: live delivery", .timeLimit(.minutes(3)))
struct ChatLiveTests {
    typealias T = IdentityTests
    typealias C = ChatTests

    @Test("messages, typing, read receipts and unread counts reach both members live (a second device too); job events become system entries; the SDK's publish of a message is refused")
    func liveConversation() async throws {
        let r = try await RealtimeHarness.start(extraServices: { h in [
            OutboxRelay(mongo: h.platform.mongo, producer: h.platform.producer, topics: h.topics, configuration: .init(idleInterval: .milliseconds(20))),
            try! h.worker("chat"),
        ] })
        let h = r.dispatch
        try await h.app.test(.router) { api in
            let index = ProviderPresenceIndex(redis: h.platform.redis)
            let (_, category) = try await DispatchTests.adminAndCategory(h, api)
            let provider = try await DispatchTests.onlineProvider(api, index: index, category: category, offsetLat: 0.01)
            let customer = try await T.register(api, email: T.email())
            let job = try await JobTests.assignedJob(h, api, index: index, category: category, customer: customer, provider: provider)
            // The chat worker opens the conversation from job.assigned (through Kafka).
            #expect(try await eventually(timeout: .seconds(30)) {
                (try? await C.conversation(api, job, token: customer.accessToken).lastMessage?.kind) == "system"
            }, "the assignment entry arrived through the chat worker")

            let chat = RealtimeChannel.chat(job).name, inbox = RealtimeChannel.user(customer.user.id).name
            let phone = try await r.connected(customer.accessToken)
            let tablet = try await r.connected(customer.accessToken)
            _ = try await phone.command("subscribe", ["channel": chat])
            _ = try await phone.command("subscribe", ["channel": inbox])
            _ = try await tablet.command("subscribe", ["channel": inbox])

            // The provider is the Python SDK.
            let status = FileManager.default.temporaryDirectory.appendingPathComponent(TestServers.unique("chat") + ".status").path
            FileManager.default.createFile(atPath: status, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: status) }
            func lines() -> [String] { ((try? String(contentsOfFile: status, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }
            let script = DeploymentFilesTests.root.appendingPathComponent("Tests/Python/centrifuge_chat.py").path
            let sdk = Task { try await ChildProcess.python(script, "ws://127.0.0.1:\(r.gateways[0].port!)/connection/websocket", provider.accessToken, chat, status,
                                                           "The gate code is 4411") }
            #expect(try await eventually(timeout: .seconds(30)) { lines().contains("subscribed") }, "the SDK subscribed: \(lines())")

            let sent = try await C.send(api, job, token: customer.accessToken, ["clientMessageId": "live-1", "text": "The gate code is 4411"])
            #expect(sent.0 == .created)
            let seq = try #require(sent.1?.seq)
            // The phone sees its own message on the channel, the typing indicator the SDK sends, and
            // its unread count (0: its own message) on both devices.
            let echo = try await phone.waitFor(timeout: .seconds(30)) { message in
                message.object("push")?.object("pub")?.object("data")?["type"] as? String == "chat.message-sent.v1"
                    && message.object("push")?.object("pub")?.object("data")?.object("data")?.object("message")?["seq"] as? Int == seq
            }
            #expect(echo.object("push")?.object("pub")?["offset"] as? Int != nil, "stored messages are in the channel's stream (recoverable)")
            let typing = try await phone.waitFor(timeout: .seconds(30)) { $0.object("push")?.object("pub")?.object("data")?["type"] as? String == "chat.typing" }
            #expect(typing.object("push")?.object("pub")?.object("data")?.object("data")?["userId"] as? String == provider.user.id)

            #expect(try await sdk.value == 0, "the SDK script failed: \(lines())")
            let result = try #require(lines().first { $0.hasPrefix("result ") }.map { String($0.dropFirst(7)) })
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.utf8)) as? [String: Any])
            let received = object["messages"] as? [[String: Any]] ?? []
            #expect(received.contains { $0["seq"] as? Int == seq && $0["text"] as? String == "The gate code is 4411" }, "\(received)")
            #expect(object["refused"] as? Int == 107, "a chat message over the socket is refused: \(object)")

            // The provider reads (REST): the phone sees the receipt.
            #expect(try await C.read(api, job, token: provider.accessToken, upTo: seq).0 == .ok)
            let receipt = try await phone.waitFor(timeout: .seconds(30)) { $0.object("push")?.object("pub")?.object("data")?["type"] as? String == "chat.messages-read.v1" }
            #expect(receipt.object("push")?.object("pub")?.object("data")?.object("data")?["readUpTo"] as? Int == seq)

            // The provider answers: both of the client's devices get the unread count; reading on
            // one clears it on both.
            #expect(try await C.send(api, job, token: provider.accessToken, ["clientMessageId": "r-1", "text": "Thanks, on my way"]).0 == .created)
            for device in [phone, tablet] {
                _ = try await device.waitFor(timeout: .seconds(30)) { message in
                    let data = message.object("push")?.object("pub")?.object("data")
                    return data?["type"] as? String == "chat.unread-changed" && data?.object("data")?["unreadCount"] as? Int == 1
                }
            }
            let last = try await C.conversation(api, job, token: customer.accessToken).lastSeq
            #expect(try await C.read(api, job, token: customer.accessToken, upTo: last).1?.unreadCount == 0)
            for device in [phone, tablet] {
                _ = try await device.waitFor(timeout: .seconds(30)) { message in
                    let data = message.object("push")?.object("pub")?.object("data")
                    return data?["type"] as? String == "chat.unread-changed" && data?.object("data")?["unreadCount"] as? Int == 0
                }
            }

            // A job event becomes a system entry, live.
            #expect(try await JobTests.move(api, job, to: "en_route", token: provider.accessToken).0 == .ok)
            let entry = try await phone.waitFor(timeout: .seconds(30)) { message in
                message.object("push")?.object("pub")?.object("data")?.object("data")?.object("message")?["kind"] as? String == "system"
                    && message.object("push")?.object("pub")?.object("data")?.object("data")?.object("message")?["text"] as? String == "The provider is on the way."
            }
            #expect(entry.object("push")?.object("pub") != nil)

            // Offline, then back: the unread count is the server's, right after a reconnect.
            await tablet.close()
            await phone.close()
            for n in 1...2 { _ = try await C.send(api, job, token: provider.accessToken, ["clientMessageId": "off-\(n)", "text": "while you were away \(n)"]) }
            let back = try await C.conversation(api, job, token: customer.accessToken)
            #expect(back.unreadCount == 3, "the system entry and two messages: \(back.unreadCount)")
        }
        await r.stop()
    }
}

@Suite("Chat: what the bridge publishes")
struct ChatBridgeTests {
    static func event<P: Encodable>(_ type: EventType, _ payload: P) throws -> EventEnvelope {
        try EventEnvelope(source: ChatEvents.source, type: type, aggregateID: "job-1", payload: payload)
    }

    @Test("a message reaches the conversation's channel and both members' unread counts; closing revokes the channel after telling its members")
    func records() throws {
        let message = ChatEvents.Message(id: "m", seq: 7, senderId: "c", kind: "user", text: "hi", attachments: [], createdAt: Date())
        let sent = try RealtimeBridge.records(for: Self.event(ChatEvents.messageSent, ChatEvents.MessageSent(
            jobId: "job-1", message: message, unread: [.init(userId: "c", unreadCount: 0), .init(userId: "p", unreadCount: 3)])))
        #expect(sent.map { "\($0.0.rawValue) \($0.1.name)" } == [
            "marketplace.realtime.publication.v1 chat:job-1", "marketplace.realtime.publication.v1 user:c", "marketplace.realtime.publication.v1 user:p"])
        let unread = try #require(try JSONSerialization.jsonObject(with: Data(sent[2].2)) as? [String: Any])
        #expect(unread["type"] as? String == "chat.unread-changed" && unread.object("data")?["unreadCount"] as? Int == 3
                && unread.object("data")?["lastSeq"] as? Int == 7)

        let read = try RealtimeBridge.records(for: Self.event(ChatEvents.messagesRead, ChatEvents.MessagesRead(jobId: "job-1", userId: "p", readUpTo: 7, unreadCount: 0)))
        #expect(read.map(\.1.name) == ["chat:job-1", "user:p"])

        let closed = try RealtimeBridge.records(for: Self.event(ChatEvents.conversationClosed, ChatEvents.ConversationClosed(
            jobId: "job-1", status: "frozen", reason: "no-show", members: ["c", "p"])))
        #expect(closed.map { "\($0.0 == .revoke ? "revoke" : "pub") \($0.1.name)" } == ["pub chat:job-1", "pub user:c", "pub user:p", "revoke chat:job-1"])

        // A completed job ends its job and location channels; the conversation stays for follow-ups.
        let completed = try RealtimeBridge.records(for: EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.jobStatusChanged, aggregateID: "job-1",
                                                                      payload: DispatchEvents.JobStatusChanged(jobId: "job-1", requestId: "r", clientId: "c", providerId: "p",
                                                                                                               from: .inProgress, to: .completed, by: .provider, at: Date())))
        #expect(completed.filter { $0.0 == .revoke }.map(\.1.name) == ["job:job-1", "location:job-1"])
    }
}
