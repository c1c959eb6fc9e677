import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import MarketplaceAWS
import MarketplaceChat
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceMessaging
import MarketplaceMongo
import NIOCore
import Testing

/// Job conversations against the real servers: MongoDB (history, cursors, outbox), Redis (rate
/// limit), moto's S3 (attachments). Job events are applied as the chat worker applies them: the
/// outbox entry Dispatch wrote, handed to the service (redeliveries included).
@Suite("Chat: job conversations", .timeLimit(.minutes(3)))
struct ChatTests {
    typealias T = IdentityTests
    typealias D = DispatchTests
    typealias Message = ChatService.MessageView

    struct Party { let customer: T.Tokens; let provider: T.Tokens; let loser: T.Tokens; let stranger: T.Tokens; let admin: String; let job: String }

    /// A job assigned to `provider` (a second provider got the offer and lost), its
    /// conversation opened by the job.assigned event.
    static func assignedConversation(_ h: D.Harness, _ api: some TestClientProtocol) async throws -> Party {
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        let (admin, category) = try await D.adminAndCategory(h, api)
        let provider = try await D.onlineProvider(api, index: index, category: category, offsetLat: 0.01)
        let loser = try await D.onlineProvider(api, index: index, category: category, offsetLat: 0.02)
        let customer = try await T.register(api, email: T.email())
        let stranger = try await T.register(api, email: T.email())
        let job = try await JobTests.assignedJob(h, api, index: index, category: category, customer: customer, provider: provider)
        try await applyJobEvents(h, job: job)
        return Party(customer: customer, provider: provider, loser: loser, stranger: stranger, admin: admin, job: job)
    }

    /// Every event Dispatch wrote for the job, in order, applied by the chat worker's handler.
    static func applyJobEvents(_ h: D.Harness, job: String) async throws {
        for event in try await outboxEvents(h, aggregate: job, types: [DispatchEvents.jobAssigned, DispatchEvents.jobStatusChanged]) {
            try await h.chat.service.apply(event, inbox: h.chat.service.timelineInbox)
        }
    }

    static func outboxEvents(_ h: D.Harness, aggregate: String, types: [EventType]) async throws -> [EventEnvelope] {
        try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
            .find(["aggregateId": .string(aggregate), "type": ["$in": .array(types.map { .string($0.rawValue) })]], options: FindOptions(sort: ["_id": 1]))
            .map { EventEnvelope(id: $0.eventId, source: $0.source, type: EventType(rawValue: $0.type), time: $0.time, aggregateID: $0.aggregateId,
                                 data: Array($0.data), traceparent: $0.traceparent) }
    }

    static func send(_ api: some TestClientProtocol, _ job: String, token: String, _ body: [String: Any]) async throws -> (HTTPResponse.Status, Message?, T.ProblemBody?, String?) {
        try await api.execute(uri: "/v1/conversations/\(job)/messages", method: .post, headers: T.bearer(token), body: T.json(body)) { response in
            (response.status, try? JSONDecoder.iso.decode(Message.self, from: response.body), try? JSONDecoder().decode(T.ProblemBody.self, from: response.body),
             response.headers[.retryAfter])
        }
    }

    static func get<V: Decodable>(_ api: some TestClientProtocol, _ uri: String, token: String, as type: V.Type) async throws -> (HTTPResponse.Status, V?) {
        try await api.execute(uri: uri, method: .get, headers: T.bearer(token)) { response in
            (response.status, try? JSONDecoder.iso.decode(V.self, from: response.body))
        }
    }

    static func read(_ api: some TestClientProtocol, _ job: String, token: String, upTo: Int) async throws -> (HTTPResponse.Status, ChatService.ReadState?) {
        try await api.execute(uri: "/v1/conversations/\(job)/read", method: .post, headers: T.bearer(token), body: T.json(["upToSeq": upTo])) { response in
            (response.status, try? JSONDecoder.iso.decode(ChatService.ReadState.self, from: response.body))
        }
    }

    static func conversation(_ api: some TestClientProtocol, _ job: String, token: String) async throws -> ChatService.ConversationView {
        try #require(try await get(api, "/v1/conversations/\(job)", token: token, as: ChatService.ConversationView.self).1)
    }

    @Test("members chat over REST: seq without gaps, idempotent sends, unread counts and read cursors, strangers and the losing provider get 404")
    func conversationOverREST() async throws {
        let h = try await D.harness()
        try await h.app.test(.router) { api in
            let p = try await Self.assignedConversation(h, api)
            let list = try #require(try await Self.get(api, "/v1/conversations", token: p.customer.accessToken, as: ChatService.ConversationPage.self).1)
            #expect(list.conversations.map(\.id) == [p.job])
            #expect(list.conversations.first?.status == .open && list.conversations.first?.lastSeq == 1, "the assignment is the first entry")
            #expect(list.conversations.first?.unreadCount == 1 && list.conversations.first?.lastMessage?.kind == "system")

            let first = try await Self.send(api, p.job, token: p.customer.accessToken, ["clientMessageId": "m-1", "text": "  Where do I park?  "])
            #expect(first.0 == .created && first.1?.seq == 2 && first.1?.text == "Where do I park?" && first.1?.senderId == p.customer.user.id)
            let again = try await Self.send(api, p.job, token: p.customer.accessToken, ["clientMessageId": "m-1", "text": "Where do I park?"])
            #expect(again.0 == .ok && again.1?.id == first.1?.id && again.1?.seq == 2, "the same clientMessageId returns the stored message")
            let reply = try await Self.send(api, p.job, token: p.provider.accessToken, ["clientMessageId": "m-1", "text": "In front of the gate"])
            #expect(reply.0 == .created && reply.1?.seq == 3, "clientMessageId is per sender")
            #expect(try await h.platform.mongo.collection("chat_messages", as: ChatMessage.self).count(["conversationId": .string(p.job)]) == 3)
            let sent = try await Self.outboxEvents(h, aggregate: p.job, types: [ChatEvents.messageSent])
            #expect(sent.count == 3, "one message-sent event per stored message, none for the retried send")
            let lastEvent = try #require(sent.last).decode(ChatEvents.MessageSent.self)
            #expect(lastEvent.unread.first { $0.userId == p.customer.user.id }?.unreadCount == 1
                    && lastEvent.unread.first { $0.userId == p.provider.user.id }?.unreadCount == 0)

            // Unread counts come from the read cursors; writing moves the writer's cursor.
            #expect(try await Self.conversation(api, p.job, token: p.customer.accessToken).unreadCount == 1)
            #expect(try await Self.conversation(api, p.job, token: p.provider.accessToken).unreadCount == 0)
            let moved = try await Self.read(api, p.job, token: p.customer.accessToken, upTo: 3).1
            #expect(moved?.jobId == p.job && moved?.readUpTo == 3 && moved?.unreadCount == 0)
            #expect(try await Self.read(api, p.job, token: p.customer.accessToken, upTo: 1).1?.readUpTo == 3, "never backwards")
            #expect(try await Self.read(api, p.job, token: p.customer.accessToken, upTo: 99).1?.readUpTo == 3, "beyond the end: up to the last seq")
            #expect(try await Self.read(api, p.job, token: p.customer.accessToken, upTo: -1).0 == .unprocessableContent)
            #expect(try await Self.conversation(api, p.job, token: p.provider.accessToken).otherReadUpTo == 3, "the read receipt")
            #expect(try await Self.outboxEvents(h, aggregate: p.job, types: [ChatEvents.messagesRead]).count == 1, "only a cursor that moved is announced")

            // Pages by seq: newest first, `before` goes back, `after` fills a gap oldest first.
            for n in 4...9 {  // alternating: each member stays within the 5-message burst
                let sender = n.isMultiple(of: 2) ? p.provider : p.customer
                #expect(try await Self.send(api, p.job, token: sender.accessToken, ["clientMessageId": "p-\(n)", "text": "n\(n)"]).1?.seq == n)
            }
            let newest = try #require(try await Self.get(api, "/v1/conversations/\(p.job)/messages?limit=3", token: p.customer.accessToken, as: ChatService.MessagePage.self).1)
            #expect(newest.messages.map(\.seq) == [9, 8, 7] && newest.hasMore)
            let older = try #require(try await Self.get(api, "/v1/conversations/\(p.job)/messages?before=7&limit=10", token: p.customer.accessToken, as: ChatService.MessagePage.self).1)
            #expect(older.messages.map(\.seq) == [6, 5, 4, 3, 2, 1] && !older.hasMore)
            let gap = try #require(try await Self.get(api, "/v1/conversations/\(p.job)/messages?after=5", token: p.customer.accessToken, as: ChatService.MessagePage.self).1)
            #expect(gap.messages.map(\.seq) == [6, 7, 8, 9])
            #expect(try await Self.get(api, "/v1/conversations/\(p.job)/messages?limit=0", token: p.customer.accessToken, as: T.ProblemBody.self).0 == .badRequest)

            // Who sees it: strangers and the provider who lost the offer get 404; admins read, not write.
            for outsider in [p.stranger, p.loser] {
                #expect(try await Self.get(api, "/v1/conversations/\(p.job)/messages", token: outsider.accessToken, as: T.ProblemBody.self).0 == .notFound)
                #expect(try await Self.send(api, p.job, token: outsider.accessToken, ["clientMessageId": "x", "text": "hi"]).0 == .notFound)
                #expect(try await Self.read(api, p.job, token: outsider.accessToken, upTo: 1).0 == .notFound)
            }
            #expect(try await Self.get(api, "/v1/conversations/no-such-job/messages", token: p.customer.accessToken, as: T.ProblemBody.self).0 == .notFound)
            #expect(try await Self.get(api, "/v1/conversations/\(p.job)/messages", token: p.admin, as: ChatService.MessagePage.self).1?.messages.count == 9)
            #expect(try await Self.send(api, p.job, token: p.admin, ["clientMessageId": "a", "text": "hi"]).2?.code == "not_a_member")
        }
    }

    @Test("bad input is refused with the field named and nothing stored; contact details are masked and the masking recorded")
    func badInputAndMasking() async throws {
        let h = try await D.harness()
        try await h.app.test(.router) { api in
            let p = try await Self.assignedConversation(h, api)
            let token = p.customer.accessToken
            for (body, status, code, field) in [
                (["clientMessageId": "e1", "text": "   "], HTTPResponse.Status.unprocessableContent, "validation_failed", "text"),
                (["clientMessageId": "e2", "text": String(repeating: "a", count: 4_001)], .unprocessableContent, "validation_failed", "text"),
                (["clientMessageId": "bad id!", "text": "hi"], .unprocessableContent, "validation_failed", "clientMessageId"),
                (["clientMessageId": "e3", "attachments": ["chat/other-job/x"]], .unprocessableContent, "validation_failed", "attachments[0]"),
                (["text": "hi"], .badRequest, "missing_field", "clientMessageId"),
                (["clientMessageId": "e4", "text": 42], .badRequest, "invalid_field", "text"),
            ] as [([String: Any], HTTPResponse.Status, String, String)] {
                let answer = try await Self.send(api, p.job, token: token, body)
                #expect(answer.0 == status && answer.2?.code == code && answer.2?.detail?.contains(field) == true, "\(body.keys.sorted()): \(String(describing: answer.2))")
            }
            let malformed = try await api.execute(uri: "/v1/conversations/\(p.job)/messages", method: .post, headers: T.bearer(token),
                                                  body: ByteBuffer(string: "{\"clientMessageId\":")) { $0.status }
            #expect(malformed == .badRequest)
            #expect(try await Self.send(api, p.job, token: token, ["clientMessageId": "ok", "text": String(repeating: "b", count: 4_000)]).0 == .created,
                    "exactly the limit is fine")
            #expect(try await Self.conversation(api, p.job, token: token).lastSeq == 2, "the refused sends took no seq")

            let masked = try await Self.send(api, p.job, token: token, ["clientMessageId": "contact",
                                                                        "text": "Mail me at joana.silva@example.pt or call +351 912 345 678, gate code 4411"])
            #expect(masked.0 == .created)
            #expect(masked.1?.text == "Mail me at [email hidden] or call [phone hidden], gate code 4411", "\(masked.1?.text ?? "")")
            #expect(masked.1?.moderation == ["email_masked", "phone_masked"])
            let stored = try #require(try await h.platform.mongo.collection("chat_messages", as: ChatMessage.self).findOne(["clientMessageId": "contact"]))
            #expect(stored.text?.contains("912") == false && stored.moderation == ["email_masked", "phone_masked"], "masked before it was stored")
        }
    }

    @Test("the token bucket: 5 at once, then one every 200 ms, per user (Redis, deterministic clock)")
    func tokenBucket() async throws {
        let redis = TestServers.redis()
        let limiter = MessageRateLimiter(redis: redis, rate: 5, burst: 5)
        let user = TestServers.unique("user"), start = Date()
        for _ in 0..<5 { #expect(try await limiter.take(user, now: start) == nil) }
        #expect(try await limiter.take(user, now: start) == 200, "the sixth waits for the next token")
        #expect(try await limiter.take(user, now: start.addingTimeInterval(0.1)) == 100)
        #expect(try await limiter.take(user, now: start.addingTimeInterval(0.2)) == nil)
        #expect(try await limiter.take(TestServers.unique("other"), now: start) == nil, "each user has a bucket of their own")
        #expect(ChatPolicy().messagesPerSecond == 5 && ChatPolicy().messageBurst == 5)
        await redis.shutdown()
    }

    @Test("over the limit: 429 rate_limited with Retry-After, and every 201 stored exactly once")
    func rateLimit() async throws {
        // One token a second after a burst of 5, so that a slow machine cannot refill it mid-test.
        let h = try await D.harness(chatPolicy: ChatPolicy(messagesPerSecond: 1, messageBurst: 5))
        try await h.app.test(.router) { api in
            let p = try await Self.assignedConversation(h, api)
            var created = 0, limited: [String?] = []
            let started = ContinuousClock.now
            for n in 0..<9 {
                let answer = try await Self.send(api, p.job, token: p.customer.accessToken, ["clientMessageId": "burst-\(n)", "text": "n\(n)"])
                if answer.0 == .created { created += 1 } else if answer.0 == .tooManyRequests, answer.2?.code == "rate_limited" { limited.append(answer.3) }
            }
            let refills = Int((ContinuousClock.now - started).components.seconds) + 1
            #expect(created >= 5 && created <= 5 + refills && created + limited.count == 9, "created \(created), limited \(limited.count)")
            #expect(limited.allSatisfy { $0 == "1" }, "Retry-After in whole seconds: \(limited)")
            #expect(try await Self.conversation(api, p.job, token: p.customer.accessToken).lastSeq == 1 + created)
            // The other member has a bucket of their own.
            #expect(try await Self.send(api, p.job, token: p.provider.accessToken, ["clientMessageId": "own", "text": "mine"]).0 == .created)
            try await Task.sleep(for: .milliseconds(1_100))
            #expect(try await Self.send(api, p.job, token: p.customer.accessToken, ["clientMessageId": "later", "text": "again"]).0 == .created)
        }
    }

    @Test("the conversation is the job's timeline: system entries per status, follow-ups after completion, read-only after the window, frozen on cancellation")
    func timelineAndClosing() async throws {
        let h = try await D.harness()
        try await h.app.test(.router) { api in
            let p = try await Self.assignedConversation(h, api)
            for status in ["en_route", "arrived", "in_progress", "completed"] {
                #expect(try await JobTests.move(api, p.job, to: status, token: p.provider.accessToken).0 == .ok)
            }
            try await Self.applyJobEvents(h, job: p.job)
            try await Self.applyJobEvents(h, job: p.job)  // Kafka redelivers: the inbox applies each once
            let timeline = try #require(try await Self.get(api, "/v1/conversations/\(p.job)/messages?after=0", token: p.customer.accessToken,
                                                            as: ChatService.MessagePage.self).1)
            #expect(timeline.messages.map(\.kind) == Array(repeating: "system", count: 5))
            #expect(timeline.messages.map(\.text) == ["The job was assigned: you can chat here.", "The provider is on the way.", "The provider has arrived.",
                                                      "The work has started.", "The job was completed. Follow-up messages are possible for a while."])
            let completed = try await Self.conversation(api, p.job, token: p.customer.accessToken)
            #expect(completed.status == .open && completed.jobStatus == .completed && completed.unreadCount == 5)
            let window = try #require(completed.writableUntil)
            #expect(abs(window.timeIntervalSinceNow - 48 * 3_600) < 60, "48 hours of follow-ups")
            #expect(try await Self.send(api, p.job, token: p.customer.accessToken, ["clientMessageId": "thanks", "text": "Thanks!"]).0 == .created)

            // The window ends: the sweep makes it read-only (once), with its event; reading still works.
            #expect(try await h.chat.service.closeExpiredConversations(now: window.addingTimeInterval(1)) == 1)
            #expect(try await h.chat.service.closeExpiredConversations(now: window.addingTimeInterval(2)) == 0)
            #expect(try await Self.conversation(api, p.job, token: p.customer.accessToken).status == .readOnly)
            let late = try await Self.send(api, p.job, token: p.customer.accessToken, ["clientMessageId": "late", "text": "one more thing"])
            #expect(late.0 == .conflict && late.2?.code == "conversation_closed")
            #expect(try await Self.read(api, p.job, token: p.customer.accessToken, upTo: 6).1?.unreadCount == 0, "reading stays possible")
            let closedEvents = try await Self.outboxEvents(h, aggregate: p.job, types: [ChatEvents.conversationClosed])
            #expect(try closedEvents.map { try $0.decode(ChatEvents.ConversationClosed.self).status } == ["read_only"])

            // A cancelled job's conversation freezes at once, the reason in its last entry.
            let index = ProviderPresenceIndex(redis: h.platform.redis)
            let category = TestServers.unique("cat")
            try await api.execute(uri: "/v1/categories", method: .post, headers: T.bearer(p.admin), body: T.json(["slug": category, "name": "C"])) { _ in }
            try await index.apply(DispatchEvents.AvailabilityChanged(providerId: p.provider.user.id, online: true, categories: [category], at: Date()))
            try await index.apply(DispatchEvents.LocationUpdated(providerId: p.provider.user.id, lat: 38.73, lng: -9.14, at: Date()))
            let second = try await JobTests.assignedJob(h, api, index: index, category: category, customer: p.customer, provider: p.provider)
            try await api.execute(uri: "/v1/jobs/\(second)/cancel", method: .post, headers: T.bearer(p.customer.accessToken),
                                  body: T.json(["reason": "found someone closer"])) { #expect($0.status == .ok) }
            try await Self.applyJobEvents(h, job: second)
            let frozen = try await Self.conversation(api, second, token: p.provider.accessToken)
            #expect(frozen.status == .frozen && frozen.lastMessage?.kind == "system")
            #expect(frozen.lastMessage?.text == "The job was cancelled by the client: found someone closer This conversation is closed.")
            let refused = try await Self.send(api, second, token: p.provider.accessToken, ["clientMessageId": "q", "text": "why?"])
            #expect(refused.0 == .conflict && refused.2?.code == "conversation_closed" && refused.2?.detail?.contains("found someone closer") == true)
            let list = try #require(try await Self.get(api, "/v1/conversations", token: p.customer.accessToken, as: ChatService.ConversationPage.self).1)
            #expect(list.conversations.map(\.id) == [second, p.job], "newest activity first")
        }
    }

    @Test("attachments: a presigned upload to S3, referenced by a message, read back through a presigned download; foreign or missing keys refused")
    func attachments() async throws {
        let h = try await D.harness()
        try await h.app.test(.router) { api in
            let p = try await Self.assignedConversation(h, api)
            func announce(_ token: String, _ job: String, _ body: [String: Any]) async throws -> (HTTPResponse.Status, ChatService.UploadTicket?, T.ProblemBody?) {
                try await api.execute(uri: "/v1/conversations/\(job)/attachments", method: .post, headers: T.bearer(token), body: T.json(body)) { response in
                    (response.status, try? JSONDecoder.iso.decode(ChatService.UploadTicket.self, from: response.body),
                     try? JSONDecoder().decode(T.ProblemBody.self, from: response.body))
                }
            }
            #expect(try await announce(p.customer.accessToken, p.job, ["contentType": "text/html", "size": 10]).2?.detail?.hasPrefix("contentType") == true)
            #expect(try await announce(p.customer.accessToken, p.job, ["contentType": "image/png", "size": 10 * 1_048_576 + 1]).2?.detail?.hasPrefix("size") == true)
            #expect(try await announce(p.stranger.accessToken, p.job, ["contentType": "image/png", "size": 10]).0 == .notFound)

            let photo = Array((0..<3_000).map { UInt8($0 % 251) })
            let ticket = try #require(try await announce(p.customer.accessToken, p.job, ["contentType": "image/png", "size": photo.count]).1)
            #expect(ticket.key.hasPrefix("chat/\(p.job)/") && ticket.method == "PUT" && ticket.uploadUrl.contains("X-Amz-Signature="))
            let unsent = try await Self.send(api, p.job, token: p.customer.accessToken, ["clientMessageId": "early", "attachments": [ticket.key]])
            #expect(unsent.0 == .unprocessableContent && unsent.2?.detail?.contains("nothing was uploaded") == true, "\(String(describing: unsent.2))")

            // The client uploads straight to object storage with the presigned URL.
            var put = HTTPClientRequest(url: ticket.uploadUrl)
            put.method = .PUT
            put.headers.add(name: "Content-Type", value: "image/png")
            put.body = .bytes(ByteBuffer(bytes: photo))
            #expect(try await HTTPClient.shared.execute(put, timeout: .seconds(10)).status.code == 200)

            let byProvider = try await Self.send(api, p.job, token: p.provider.accessToken, ["clientMessageId": "steal", "attachments": [ticket.key]])
            #expect(byProvider.0 == .unprocessableContent && byProvider.2?.detail?.hasPrefix("attachments[0]") == true, "only the uploader attaches it")
            let message = try await Self.send(api, p.job, token: p.customer.accessToken, ["clientMessageId": "photo", "text": "the leak", "attachments": [ticket.key]])
            #expect(message.0 == .created && message.1?.attachments.map(\.key) == [ticket.key] && message.1?.attachments.first?.size == photo.count)

            let page = try #require(try await Self.get(api, "/v1/conversations/\(p.job)/messages?limit=1", token: p.provider.accessToken, as: ChatService.MessagePage.self).1)
            let url = try #require(page.messages.first?.attachments.first?.url)
            let download = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
            #expect(download.status.code == 200)
            #expect(Array(buffer: try await download.body.collect(upTo: 1 << 20)) == photo, "the same bytes come back")
        }
    }

    @Test("retention deletes old closed conversations' messages and objects; a deleted account's messages are anonymised")
    func retentionAndErasure() async throws {
        let h = try await D.harness()
        try await h.app.test(.router) { api in
            let p = try await Self.assignedConversation(h, api)
            let store = S3AttachmentStore(s3: h.chat.s3)
            let key = try await api.execute(uri: "/v1/conversations/\(p.job)/attachments", method: .post, headers: T.bearer(p.customer.accessToken),
                                            body: T.json(["contentType": "application/pdf", "size": 4])) { response in
                try JSONDecoder.iso.decode(ChatService.UploadTicket.self, from: response.body).key
            }
            try await h.chat.s3.put(key: key, bytes: Array("%PDF".utf8), contentType: "application/pdf")
            _ = try await Self.send(api, p.job, token: p.customer.accessToken, ["clientMessageId": "c1", "text": "my address is Rua 1", "attachments": [key]])
            _ = try await Self.send(api, p.job, token: p.provider.accessToken, ["clientMessageId": "p1", "text": "on my way"])

            // The client deletes the account: the user.deleted event reaches the chat worker.
            try await api.execute(uri: "/v1/users/me", method: .delete, headers: T.bearer(p.customer.accessToken)) { #expect($0.status == .noContent) }
            let deleted = try #require(try await Self.outboxEvents(h, aggregate: p.customer.user.id, types: [IdentityEvents.userDeleted]).first)
            #expect(try await h.chat.service.anonymise(userID: try deleted.decode(IdentityEvents.UserDeleted.self).userId) == 1)
            let messages = try #require(try await Self.get(api, "/v1/conversations/\(p.job)/messages?after=0", token: p.provider.accessToken,
                                                            as: ChatService.MessagePage.self).1).messages
            #expect(messages.map(\.seq) == [1, 2, 3], "no gap where the erased message was")
            #expect(messages[1].senderId == ChatMessage.deletedSender && messages[1].text == nil && messages[1].attachments.isEmpty)
            #expect(messages[2].text == "on my way", "the other member's messages stay")
            #expect(try await store.storedSize(key: key) == nil, "the attachment object is gone")
            #expect(try await h.chat.service.anonymise(userID: p.customer.user.id) == 0, "nothing left to erase")

            // The job is cancelled and the conversation closes; 180 days later the sweep removes it.
            try await api.execute(uri: "/v1/jobs/\(p.job)/cancel", method: .post, headers: T.bearer(p.provider.accessToken),
                                  body: T.json(["reason": "client left"])) { #expect($0.status == .ok) }
            try await Self.applyJobEvents(h, job: p.job)
            #expect(try await h.chat.service.sweepRetention(now: Date().addingTimeInterval(179 * 86_400)).conversations == 0, "not yet")
            let swept = try await h.chat.service.sweepRetention(now: Date().addingTimeInterval(181 * 86_400))
            #expect(swept.conversations == 1 && swept.messages == 4)
            #expect(try await h.platform.mongo.collection("chat_messages", as: ChatMessage.self).count(["conversationId": .string(p.job)]) == 0)
            let tombstone = try await Self.conversation(api, p.job, token: p.provider.accessToken)
            #expect(tombstone.status == .frozen && tombstone.lastSeq == 4 && tombstone.lastMessage == nil, "kept as a tombstone, seq not restarted")
            #expect(try await h.chat.service.sweepRetention(now: Date().addingTimeInterval(182 * 86_400)).conversations == 0)
        }
    }

    @Test("both members sending at once: every message gets its own seq, 1 to N without gaps, and one event each")
    func concurrentSends() async throws {
        let h = try await D.harness(chatPolicy: ChatPolicy(messagesPerSecond: 1_000, messageBurst: 1_000))
        try await h.app.test(.router) { api in
            let p = try await Self.assignedConversation(h, api)
            let start = try await Self.conversation(api, p.job, token: p.customer.accessToken).lastSeq
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (who, tokens) in [("c", p.customer), ("p", p.provider)] {
                    for n in 0..<15 {
                        group.addTask {
                            let status = try await Self.send(api, p.job, token: tokens.accessToken, ["clientMessageId": "\(who)\(n)", "text": "x"]).0
                            #expect(status == .created)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let page = try #require(try await Self.get(api, "/v1/conversations/\(p.job)/messages?after=\(start)&limit=100", token: p.customer.accessToken,
                                                       as: ChatService.MessagePage.self).1)
            #expect(page.messages.map(\.seq) == Array((start + 1)...(start + 30)))
            #expect(try await Self.conversation(api, p.job, token: p.customer.accessToken).lastSeq == start + 30)
            #expect(try await Self.outboxEvents(h, aggregate: p.job, types: [ChatEvents.messageSent]).count == start + 30, "the assignment entry and the 30 messages")
        }
    }

    @Test("a member who missed more than the channel history recovers every message through REST by seq, in order, without gaps")
    func recoveryBeyondHistory() async throws {
        let h = try await D.harness(chatPolicy: ChatPolicy(messagesPerSecond: 1_000, messageBurst: 1_000))
        try await h.app.test(.router) { api in
            let p = try await Self.assignedConversation(h, api)
            let before = try await Self.conversation(api, p.job, token: p.provider.accessToken)
            let seen = before.lastSeq
            for n in 1...130 { _ = try await Self.send(api, p.job, token: p.customer.accessToken, ["clientMessageId": "b\(n)", "text": "message \(n)"]) }
            let state = try await Self.conversation(api, p.job, token: p.provider.accessToken)
            #expect(state.unreadCount == before.unreadCount + 130 && state.lastSeq == seen + 130)
            var after = seen, recovered: [Int] = []
            while true {
                let page = try #require(try await Self.get(api, "/v1/conversations/\(p.job)/messages?after=\(after)&limit=100", token: p.provider.accessToken,
                                                           as: ChatService.MessagePage.self).1)
                recovered += page.messages.map(\.seq)
                after = page.messages.last?.seq ?? after
                if !page.hasMore { break }
            }
            #expect(recovered == Array((seen + 1)...(seen + 130)))
            #expect(try await Self.read(api, p.job, token: p.provider.accessToken, upTo: after).1?.unreadCount == 0)
        }
    }
}

@Suite("AWS Signature V4")
struct SigV4Tests {
    let credentials = AWSCredentials(accessKeyID: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    let date = Date(timeIntervalSince1970: 1_369_353_600)  // 2013-05-24T00:00:00Z, the date of AWS's S3 examples

    @Test("a presigned GET matches AWS's published example (S3, query-string authentication)")
    func presignedExample() {
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "s3")
        let url = signer.presign(method: "GET", url: URL(string: "https://examplebucket.s3.amazonaws.com/test.txt")!,
                                 headers: ["host": "examplebucket.s3.amazonaws.com"], expires: 86_400, date: date)
        #expect(url.absoluteString == "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            + "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400"
            + "&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404")
    }

    @Test("an Authorization header matches AWS's published example (S3 GET Object with a Range)")
    func headerExample() {
        let signer = SigV4Signer(credentials: credentials, region: "us-east-1", service: "s3")
        let emptyHash = SigV4Signer.payloadHash([UInt8]())
        #expect(emptyHash == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let headers = signer.signatureHeaders(method: "GET", url: URL(string: "https://examplebucket.s3.amazonaws.com/test.txt")!,
                                              headers: ["Host": "examplebucket.s3.amazonaws.com", "Range": "bytes=0-9"], payloadHash: emptyHash, date: date)
        #expect(headers["Authorization"] == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            + "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
    }

    @Test("keys are encoded once per segment, slashes kept; query values fully")
    func encoding() {
        #expect(SigV4Signer.encode("chat/job 1/ä+b", keepSlash: true) == "chat/job%201/%C3%A4%2Bb")
        #expect(SigV4Signer.encode("a/b=c") == "a%2Fb%3Dc")
        #expect(!"\(credentials)".contains("wJalr"), "the secret never reaches a log line")
    }
}
