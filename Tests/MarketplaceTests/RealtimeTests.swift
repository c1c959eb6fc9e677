import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceIdentity
import MarketplaceKafka
import MarketplaceMessaging
import MarketplacePlatform
import MarketplaceRealtime
import ServiceLifecycle
import Testing

/// Gateway nodes on free ports over the real servers, with the API for accounts and jobs.
struct RealtimeHarness {
    typealias T = IdentityTests
    let dispatch: DispatchTests.Harness
    let gateways: [RealtimeGateway]
    let publisher: RealtimePublisher
    let group: ServiceGroup
    let running: Task<Void, any Error>

    var platform: Platform { dispatch.platform }

    static func start(nodes: Int = 1, extraServices: (DispatchTests.Harness) -> [any Service] = { _ in [] },
                      configure: (inout RealtimeConfiguration) -> Void = { _ in }) async throws -> RealtimeHarness {
        let h = try await DispatchTests.harness()
        for topic in h.topics.names([.realtimePublications, .jobs, .offers, .serviceRequests, .chatMessages, .users, .auth, .notifications]) {
            try await h.platform.admin.ensureTopic(topic, partitions: 2)
        }
        let gateways = (0..<nodes).map { node in
            var configuration = RealtimeConfiguration(port: 0, nodeID: TestServers.unique("node\(node)"))
            configure(&configuration)
            return h.realtime.makeGateway(configuration: configuration)
        }
        let services: [any Service] = gateways + extraServices(h)
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        #expect(try await eventually(timeout: .seconds(30)) { gateways.allSatisfy(\.isReady) }, "gateways listening and assigned")
        return RealtimeHarness(dispatch: h, gateways: gateways, publisher: h.realtime.publisher,
                               group: group, running: running)
    }

    func client(node: Int = 0, answerPings: Bool = true) -> ProtocolTestClient {
        ProtocolTestClient(port: gateways[node].port!, answerPings: answerPings)
    }

    /// A connected protocol client for `token`.
    func connected(_ token: String, node: Int = 0) async throws -> ProtocolTestClient {
        let ws = client(node: node)
        let reply = try await ws.command("connect", ["token": token])
        #expect(reply.object("connect")?["client"] is String, "\(reply)")
        return ws
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
        for topic in dispatch.topics.names([.realtimePublications, .jobs, .offers, .serviceRequests]) {
            try? await platform.admin.deleteTopic(topic)
        }
        await DispatchTests.close(dispatch)
    }

    func publish(_ channel: RealtimeChannel, _ object: [String: Any]) async throws {
        try await publisher.publish(channel, data: Array(try JSONSerialization.data(withJSONObject: object)))
    }
}

@Suite("Realtime gateway: protocol", .timeLimit(.minutes(3)))
struct RealtimeProtocolTests {
    typealias T = IdentityTests

    @Test("connect, subscribe, service publications, history, refusals with the protocol's codes, limits")
    func protocolCommands() async throws {
        let r = try await RealtimeHarness.start(configure: { $0.commandsPerSecond = 2; $0.commandBurst = 40; $0.maxMessageBytes = 8192; $0.maxSubscriptions = 3 })
        try await r.dispatch.app.test(.router) { api in
            let user = try await T.register(api, email: T.email())
            let other = try await T.register(api, email: T.email())
            let mine = "user:\(user.user.id)"

            // A bad token is terminal (3500); commands before connect and malformed JSON are 3501.
            let forged = r.client()
            forged.sendRaw(#"{"id":1,"connect":{"token":"not.a.token"}}"#)
            #expect(try await forged.closeCode() == 3500)
            let early = r.client()
            early.sendRaw(#"{"id":1,"subscribe":{"channel":"\#(mine)"}}"#)
            #expect(try await early.closeCode() == 3501)
            let garbage = try await r.connected(user.accessToken)
            garbage.sendRaw("{not json")
            #expect(try await garbage.closeCode() == 3501)

            let ws = try await r.connected(user.accessToken)
            // Someone else's channel, an unknown namespace, a job that does not exist.
            #expect(try await ws.command("subscribe", ["channel": "user:\(other.user.id)"]).object("error")?["code"] as? Int == 103)
            #expect(try await ws.command("subscribe", ["channel": "bogus:1"]).object("error")?["code"] as? Int == 102)
            #expect(try await ws.command("subscribe", ["channel": "job:nope"]).object("error")?["code"] as? Int == 103)
            let subscribed = try #require(try await ws.command("subscribe", ["channel": mine]).object("subscribe"))
            #expect(subscribed["recoverable"] as? Bool == true && subscribed["epoch"] is String)
            #expect(try await ws.command("subscribe", ["channel": mine]).object("error")?["code"] as? Int == 105)
            // Clients do not publish on user channels; unknown methods and sub_refresh are errors, not disconnects.
            #expect(try await ws.command("publish", ["channel": mine, "data": ["x": 1]]).object("error")?["code"] as? Int == 103)
            #expect(try await ws.command("frobnicate", [:]).object("error")?["code"] as? Int == 104)
            #expect(try await ws.command("sub_refresh", ["channel": mine]).object("error")?["code"] as? Int == 108)

            // A service publication (through Kafka) arrives as a push with an offset; history has it.
            try await r.publish(.user(user.user.id), ["type": "hello", "n": 1])
            let pub = try await ws.push("pub", channel: mine)
            #expect(pub.object("data")?["n"] as? Int == 1)
            let offset = try #require(pub["offset"] as? Int)
            #expect(offset > 0)
            let history = try #require(try await ws.command("history", ["channel": mine, "limit": 10]).object("history"))
            #expect((history["publications"] as? [[String: Any]])?.compactMap { $0["offset"] as? Int } == [offset])
            #expect(history["epoch"] as? String == subscribed["epoch"] as? String)

            // Unsubscribed: the next publication is not delivered (the one after re-subscribing is).
            #expect(try await ws.command("unsubscribe", ["channel": mine]).object("unsubscribe") != nil)
            try await r.publish(.user(user.user.id), ["n": 2])
            #expect(try await eventually(timeout: .seconds(10)) {
                let history = try await ws.command("history", ["channel": mine, "limit": 10]).object("history")
                return (history?["publications"] as? [Any])?.count == 2
            }, "n=2 reached the history while nobody on this node was subscribed")
            _ = try await ws.command("subscribe", ["channel": mine])
            try await r.publish(.user(user.user.id), ["n": 3])
            #expect(try await ws.push("pub", channel: mine).object("data")?["n"] as? Int == 3)
            #expect(ws.pushes("pub", channel: mine).isEmpty, "n=2 was published while unsubscribed")

            // Subscription limit (3): two more fit, the fourth is refused.
            let second = try await T.register(api, email: T.email())
            _ = second
            #expect(try await ws.command("subscribe", ["channel": "chat:none"]).object("error")?["code"] as? Int == 103)

            // Refresh with another user's token is terminal; with a fresh own token it extends.
            let refreshed = try #require(try await ws.command("refresh", ["token": user.accessToken]).object("refresh"))
            #expect((refreshed["ttl"] as? Int ?? 0) > 0)

            // Flooding: beyond the burst, commands get 111 and the connection survives a while.
            // Flooding (a fresh connection, burst 40, 2 per second): 60 commands in one frame, the
            // ones past the bucket get 111 and the connection survives.
            let flood = try await r.connected(user.accessToken)
            flood.sendRaw((1001...1060).map { #"{"id":\#($0),"presence_stats":{"channel":"\#(mine)"}}"# }.joined(separator: "\n"))
            var tooMany = 0
            for id in 1001...1060 where try await flood.waitFor({ $0["id"] as? Int == id }).object("error")?["code"] as? Int == 111 { tooMany += 1 }
            #expect(tooMany >= 10, "burst 40 of 60: \(tooMany) refused")
            await flood.close()

            // The same commands as 30 separate messages: more wait than the inbox holds before
            // reading pauses (16); reading resumes as they are handled, and every one is answered.
            let pausing = try await r.connected(user.accessToken)
            let pausesBefore = r.gateways[0].readPauseCount
            for id in 2001...2030 { pausing.sendRaw(#"{"id":\#(id),"history":{"channel":"\#(mine)","limit":100}}"#) }
            for id in 2001...2030 { _ = try await pausing.waitFor({ $0["id"] as? Int == id }) }
            #expect(r.gateways[0].readPauseCount > pausesBefore, "reading paused at least once")
            #expect(try await pausing.command("presence_stats", ["channel": mine], timeout: .seconds(5)).object("presence_stats") != nil,
                    "and resumed: a later command is read and answered")
            await pausing.close()

            // An oversize message ends the connection; other connections are unaffected.
            let bystander = try await r.connected(other.accessToken)
            ws.sendRaw(#"{"id":999,"publish":{"channel":"chat:x","data":""# + String(repeating: "a", count: 9000) + #""}}"#)
            let code = try await ws.closeCode()
            #expect(code == 3501 || code == 1009, "close code \(String(describing: code))")
            #expect(try await bystander.command("subscribe", ["channel": "user:\(other.user.id)"]).object("subscribe") != nil)
            for client in [forged, early, garbage, ws, bystander] { await client.close() }
        }
        await r.stop()
    }

    @Test("a revoked session's sockets end at once with 3500 on every node; the user's other sessions stay until suspension ends them")
    func revocationEndsLiveConnections() async throws {
        let r = try await RealtimeHarness.start(nodes: 2)
        try await r.dispatch.app.test(.router) { api in
            let (admin, _) = try await DispatchTests.adminAndCategory(r.dispatch, api)
            let email = T.email()
            let phone = try await T.register(api, email: email)
            let laptop: T.Tokens = try await api.execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                                                         body: T.json(["email": email, "password": "correct horse battery"])) { response throws in
                #expect(response.status == .ok)
                return try JSONDecoder.iso.decode(T.Tokens.self, from: response.body)
            }
            let bystander = try await T.register(api, email: T.email())
            let onPhone = try await r.connected(phone.accessToken, node: 0)
            let onLaptop = try await r.connected(laptop.accessToken, node: 1)
            let other = try await r.connected(bystander.accessToken, node: 1)

            // Logging out on the phone ends the phone's socket (on node 0) at once, not at expiry.
            let loggedOut = ContinuousClock.now
            try await api.execute(uri: "/v1/auth/logout", method: .post, headers: T.bearer(phone.accessToken)) { #expect($0.status == .noContent) }
            #expect(try await onPhone.closeCode(timeout: .seconds(3)) == 3500, "terminal: the SDK does not reconnect with a dead token")
            print("revocation: logout → socket closed in \(ContinuousClock.now - loggedOut)")
            #expect(try await onLaptop.command("presence_stats", ["channel": "user:\(phone.user.id)"]).object("presence_stats") != nil,
                    "the laptop's session was not revoked")

            // Suspension ends every session of the user, on every node; others are untouched.
            try await api.execute(uri: "/v1/admin/users/\(phone.user.id)/suspend", method: .post, headers: T.bearer(admin)) { #expect($0.status == .ok) }
            #expect(try await onLaptop.closeCode(timeout: .seconds(3)) == 3500)
            #expect(try await other.command("presence_stats", ["channel": "user:\(bystander.user.id)"]).object("presence_stats") != nil)
            for client in [onPhone, onLaptop, other] { await client.close() }
        }
        await r.stop()
    }

    @Test("an expired token gets error 109 (the SDK refreshes); a revoked session is terminal; pings need pongs")
    func authenticationAndPings() async throws {
        let r = try await RealtimeHarness.start(configure: { $0.pingInterval = .seconds(1) })
        try await r.dispatch.app.test(.router) { api in
            let email = T.email()
            let user = try await T.register(api, email: email)
            // Same keys and sessions, tokens that are born expired.
            let shortLived = IdentityService(mongo: r.platform.mongo, redis: r.platform.redis, configuration: .init(accessTokenLifetime: -5))
            let expired = try await shortLived.login(email: email, password: "correct horse battery", clientAddress: "test").accessToken
            let ws = r.client()
            #expect(try await ws.command("connect", ["token": expired]).object("error")?["code"] as? Int == 109)
            await ws.close()

            // Logged out: the session is gone, the token is refused for good.
            try await api.execute(uri: "/v1/auth/logout", method: .post, headers: T.bearer(user.accessToken)) { #expect($0.status == .noContent) }
            let revoked = r.client()
            revoked.sendRaw(#"{"id":1,"connect":{"token":"\#(user.accessToken)"}}"#)
            #expect(try await revoked.closeCode() == 3500)

            // The server pings every second; a client that never answers is dropped with 3012.
            let fresh = try await T.register(api, email: T.email())
            let silent = r.client(answerPings: false)
            _ = try await silent.command("connect", ["token": fresh.accessToken])
            #expect(try await silent.closeCode(timeout: .seconds(10)) == 3012)
            let polite = try await r.connected(fresh.accessToken)
            try await Task.sleep(for: .seconds(3))
            #expect(try await polite.command("presence_stats", ["channel": "user:\(fresh.user.id)"]).object("presence_stats") != nil, "a client that pongs stays")
            for client in [revoked, silent, polite] { await client.close() }
        }
        await r.stop()
    }

    @Test("a client that disconnects leaves presence at once, not when its entries age out")
    func disconnectLeavesPresence() async throws {
        let r = try await RealtimeHarness.start()
        try await r.dispatch.app.test(.router) { api in
            let user = try await T.register(api, email: T.email())
            let directory = GatewayPresenceDirectory(presence: PresenceStore(redis: r.platform.redis))
            let ws = try await r.connected(user.accessToken)
            #expect(try await ws.command("subscribe", ["channel": "user:\(user.user.id)"]).object("subscribe") != nil)
            #expect(try await eventually(timeout: .seconds(5)) { (try? await directory.isConnected(user.user.id)) == true })
            await ws.close()
            // Notifications asks this to choose between in-app and a push: well under the 60 s TTL
            // (30 s: a loaded 2-core CI run once took longer than 10).
            #expect(try await eventually(timeout: .seconds(30)) { (try? await directory.isConnected(user.user.id)) == false },
                    "the entry is removed when the socket closes")
        }
        await r.stop()
    }

    @Test("WebSocket framing: a ping gets its pong, a command split over frames is joined, a client's close is answered, binary, unmasked and reserved frames end with 3501, a FIN closes")
    func framing() async throws {
        let r = try await RealtimeHarness.start()
        try await r.dispatch.app.test(.router) { api in
            let user = try await T.register(api, email: T.email())
            let port = r.gateways[0].port!
            let raw = try await RawWebSocket.open(port: port)
            try raw.sendFrame(opcode: 0x9, payload: Array("are you there".utf8))
            let pong = await raw.readFrame(timeout: 20)
            #expect(pong?.opcode == 0xA && pong.map { String(decoding: $0.payload, as: UTF8.self) } == "are you there")

            let connect = Array(#"{"id":1,"connect":{"token":"\#(user.accessToken)"}}"#.utf8)
            let third = connect.count / 3
            try raw.sendFrame(opcode: 0x1, fin: false, payload: Array(connect[..<third]))
            try raw.sendFrame(opcode: 0x0, fin: false, payload: Array(connect[third..<(2 * third)]))
            try raw.sendFrame(opcode: 0x0, payload: Array(connect[(2 * third)...]))
            let reply = await raw.readFrame(timeout: 20)
            #expect(reply?.opcode == 0x1 && reply.map { String(decoding: $0.payload, as: UTF8.self) }?.hasPrefix(#"{"id":1,"connect":"#) == true)

            try raw.sendFrame(opcode: 0x8, payload: [0x03, 0xE8])  // 1000, normal closure
            let close = await raw.readFrame(timeout: 20)
            #expect(close?.opcode == 0x8 && close.map { Array($0.payload.prefix(2)) } == [0x03, 0xE8])
            #expect(try await eventually(timeout: .seconds(5)) { r.gateways[0].connectionCount == 0 }, "the connection is gone")

            let binary = try await RawWebSocket.open(port: port)
            try binary.sendFrame(opcode: 0x2, payload: [1, 2, 3])
            #expect(await binary.drainUntilClosed(timeout: 20) == 3501)

            // Frames RFC 6455 makes the server fail: unmasked (5.1), a reserved opcode (5.2).
            let unmasked = try await RawWebSocket.open(port: port)
            try unmasked.sendFrame(opcode: 0x1, masked: false, payload: Array(#"{"id":1,"connect":{}}"#.utf8))
            #expect(await unmasked.drainUntilClosed(timeout: 20) == 3501)
            let reserved = try await RawWebSocket.open(port: port)
            try reserved.sendFrame(opcode: 0x3, payload: [1])
            #expect(await reserved.drainUntilClosed(timeout: 20) == 3501)

            // A client that goes away without a close frame (FIN only) does not linger half-open.
            let leaving = try await RawWebSocket.open(port: port)
            try leaving.sendText(#"{"id":1,"connect":{"token":"\#(user.accessToken)"}}"#)
            _ = await leaving.readFrame(timeout: 20)
            // (The earlier clients' closes may still be on their way on a loaded machine.)
            #expect(try await eventually(timeout: .seconds(10)) { r.gateways[0].connectionCount == 1 })
            leaving.hangUp()
            #expect(try await eventually(timeout: .seconds(10)) { r.gateways[0].connectionCount == 0 }, "closed on the client's FIN")
        }
        await r.stop()
    }
}

@Suite("Realtime gateway: job channels, recovery, nodes", .timeLimit(.minutes(3)))
struct RealtimeChannelTests {
    typealias T = IdentityTests

    @Test("job channels: only the parties subscribe, only the provider publishes positions, chat typing with join and presence; completion revokes job access")
    func jobChannels() async throws {
        let r = try await RealtimeHarness.start(extraServices: { h in [
            OutboxRelay(mongo: h.platform.mongo, producer: h.platform.producer, topics: h.topics, configuration: .init(idleInterval: .milliseconds(20))),
            try! h.worker("realtime-bridge"),
            try! h.worker("provider-locations"),
        ] })
        try await r.dispatch.app.test(.router) { api in
            let index = ProviderPresenceIndex(redis: r.platform.redis)
            let (_, category) = try await DispatchTests.adminAndCategory(r.dispatch, api)
            let provider = try await DispatchTests.onlineProvider(api, index: index, category: category, offsetLat: 0.01)
            let customer = try await T.register(api, email: T.email())
            let stranger = try await T.register(api, email: T.email())
            let job = try await JobTests.assignedJob(r.dispatch, api, index: index, category: category, customer: customer, provider: provider)
            let (jobChannel, locationChannel, chatChannel) = ("job:\(job)", "location:\(job)", "chat:\(job)")

            let client = try await r.connected(customer.accessToken)
            let worker = try await r.connected(provider.accessToken)
            let outsider = try await r.connected(stranger.accessToken)
            for channel in [jobChannel, locationChannel, chatChannel] {
                #expect(try await client.command("subscribe", ["channel": channel]).object("subscribe") != nil, "\(channel)")
                #expect(try await outsider.command("subscribe", ["channel": channel]).object("error")?["code"] as? Int == 103, "\(channel)")
            }
            for channel in [jobChannel, chatChannel] { _ = try await worker.command("subscribe", ["channel": channel]) }

            // Positions: only the assigned provider publishes, and only positions.
            #expect(try await client.command("publish", ["channel": locationChannel, "data": ["lat": 38.7, "lng": -9.1]]).object("error")?["code"] as? Int == 103)
            #expect(try await worker.command("publish", ["channel": locationChannel, "data": ["lat": 123, "lng": 0]]).object("error")?["code"] as? Int == 107)
            #expect(try await worker.command("publish", ["channel": locationChannel, "data": ["lat": 38.71, "lng": -9.13]]).object("publish") != nil)
            let position = try await client.push("pub", channel: locationChannel)
            #expect(position.object("data")?["lat"] as? Double == 38.71 && position.object("info")?["user"] as? String == provider.user.id)
            // The same position reaches matching: the provider-locations worker moves it in the GEO index.
            let moved = try await eventually(timeout: .seconds(30)) {
                let near = try await index.nearby(category: category, at: Coordinates(lat: 38.71, lng: -9.13), radiusKm: 0.05)
                return near.contains { $0.providerId == provider.user.id }
            }
            let state = try await r.platform.redis.hgetall("provider-state:\(provider.user.id)")
            #expect(moved, "the position published on the gateway moved the provider in the matching index: \(state)")

            // Chat: the provider's subscription reached the client as a join; messages go both ways.
            let providerID = provider.user.id
            _ = try await client.waitFor { message in
                guard let push = message.object("push"), push["channel"] as? String == chatChannel else { return false }
                return push.object("join")?.object("info")?["user"] as? String == providerID
            }
            // Messages are stored first (REST); a publish carries only the typing indicator, which
            // reaches the other member without an offset (never in history).
            #expect(try await client.command("publish", ["channel": chatChannel, "data": ["text": "the door code is 1234"]]).object("error")?["code"] as? Int == 107)
            #expect(try await client.command("publish", ["channel": chatChannel, "data": ["type": "typing"]]).object("publish") != nil)
            let typing = try await worker.push("pub", channel: chatChannel)
            #expect(typing.object("data")?["type"] as? String == "chat.typing" && typing.object("data")?.object("data")?["userId"] as? String == customer.user.id)
            #expect(typing["offset"] == nil, "ephemeral: outside the channel's stream")
            let stats = try #require(try await client.command("presence_stats", ["channel": chatChannel]).object("presence_stats"))
            #expect(stats["num_users"] as? Int == 2 && stats["num_clients"] as? Int == 2)
            #expect(try await outsider.command("presence", ["channel": chatChannel]).object("error")?["code"] as? Int == 103)
            let presence = try #require(try await client.command("presence", ["channel": chatChannel]).object("presence")?.object("presence"))
            #expect(Set(presence.values.compactMap { ($0 as? [String: Any])?["user"] as? String }) == [customer.user.id, provider.user.id])
            // The provider leaves the chat: a leave push, and presence shrinks.
            _ = try await worker.command("unsubscribe", ["channel": chatChannel])
            _ = try await client.waitFor { message in
                guard let push = message.object("push"), push["channel"] as? String == chatChannel else { return false }
                return push.object("leave")?.object("info")?["user"] as? String == providerID
            }
            #expect(try await client.command("presence_stats", ["channel": chatChannel]).object("presence_stats")?["num_users"] as? Int == 1)

            // The job runs to completion over HTTP: status changes reach the job channel through
            // the outbox, Kafka and the bridge; then every job channel is revoked (terminal code).
            for status in ["en_route", "arrived", "in_progress", "completed"] {
                #expect(try await JobTests.move(api, job, to: status, token: provider.accessToken).0 == .ok)
            }
            // (job.assigned may arrive first: the bridge may have started after the client subscribed.)
            var seen: [String] = []
            for _ in 0..<6 {
                let pub = try await client.push("pub", channel: jobChannel, timeout: .seconds(30))
                guard pub.object("data")?["type"] as? String == "marketplace.job.status-changed.v1" else { continue }
                seen.append(pub.object("data")?.object("data")?["to"] as? String ?? "?")
                if seen.last == "completed" { break }
            }
            #expect(seen == ["en_route", "arrived", "in_progress", "completed"], "\(seen)")
            // The job and location channels end with the job; the conversation's channel stays
            // for follow-ups (it ends when the conversation closes: chat.conversation-closed).
            for channel in [jobChannel, locationChannel] {
                #expect(try await client.push("unsubscribe", channel: channel, timeout: .seconds(15))["code"] as? Int == 2000, "\(channel)")
            }
            #expect(try await client.command("subscribe", ["channel": jobChannel]).object("error")?["code"] as? Int == 103, "no access after completion")
            for ws in [client, worker, outsider] { await ws.close() }
        }
        await r.stop()
    }

    @Test("two nodes deliver the same publication; a client that reconnects recovers exactly what it missed, in order")
    func recoveryAcrossNodes() async throws {
        let r = try await RealtimeHarness.start(nodes: 2)
        try await r.dispatch.app.test(.router) { api in
            let user = try await T.register(api, email: T.email())
            let channel = "user:\(user.user.id)"
            let first = try await r.connected(user.accessToken, node: 0)
            let other = try await r.connected(user.accessToken, node: 1)
            let subscribed = try #require(try await first.command("subscribe", ["channel": channel]).object("subscribe"))
            _ = try await other.command("subscribe", ["channel": channel])
            try await r.publish(.user(user.user.id), ["n": 1])
            let seen = try await first.push("pub", channel: channel)
            #expect(try await other.push("pub", channel: channel).object("data")?["n"] as? Int == 1, "node 1 delivers it too")
            let (offset, epoch) = (try #require(seen["offset"] as? Int), try #require(subscribed["epoch"] as? String))
            await first.close()

            for n in 2...4 { try await r.publish(.user(user.user.id), ["n": n]) }
            for n in 2...4 { #expect(try await other.push("pub", channel: channel).object("data")?["n"] as? Int == n) }

            // Back, through the other node: exactly 2, 3, 4, flagged recovered.
            let back = try await r.connected(user.accessToken, node: 1)
            let recovery = try #require(try await back.command("subscribe", ["channel": channel, "recover": true, "offset": offset, "epoch": epoch]).object("subscribe"))
            let recovered = recovery["publications"] as? [[String: Any]] ?? []
            #expect(recovery["recovered"] as? Bool == true && recovery["was_recovering"] as? Bool == true)
            #expect(recovered.compactMap { $0.object("data")?["n"] as? Int } == [2, 3, 4])
            let offsets = recovered.compactMap { $0["offset"] as? Int }
            #expect(offsets == offsets.sorted() && offsets.first ?? 0 > offset && recovery["offset"] as? Int == offsets.last)

            // An unknown epoch cannot be recovered: told so, with the current position.
            let stale = try await r.connected(user.accessToken, node: 0)
            let refused = try #require(try await stale.command("subscribe", ["channel": channel, "recover": true, "offset": offset, "epoch": "gone"]).object("subscribe"))
            #expect(refused["recovered"] as? Bool == false && (refused["publications"] as? [Any] ?? []).isEmpty && refused["offset"] as? Int == offsets.last)

            // Live again: the next publication arrives once.
            try await r.publish(.user(user.user.id), ["n": 5])
            #expect(try await back.push("pub", channel: channel).object("data")?["n"] as? Int == 5)
            try await Task.sleep(for: .milliseconds(300))
            #expect(back.pushes("pub", channel: channel).isEmpty, "no duplicate after recovery")
            for ws in [other, back, stale] { await ws.close() }
        }
        await r.stop()
    }
}

@Suite("Realtime gateway: Centrifugo SDK", .timeLimit(.minutes(3)))
struct CentrifugoSDKTests {
    typealias T = IdentityTests

    @Test("centrifuge-python connects with a platform token, receives a service's publication, and recovers exactly what it missed")
    func pythonSDKRecovers() async throws {
        let r = try await RealtimeHarness.start()
        try await r.dispatch.app.test(.router) { api in
            let user = try await T.register(api, email: T.email())
            let channel = RealtimeChannel.user(user.user.id)
            let status = FileManager.default.temporaryDirectory.appendingPathComponent(TestServers.unique("sdk") + ".status").path
            FileManager.default.createFile(atPath: status, contents: nil)
            defer { try? FileManager.default.removeItem(atPath: status) }
            func lines() -> [String] { ((try? String(contentsOfFile: status, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init) }

            let script = DeploymentFilesTests.root.appendingPathComponent("Tests/Python/centrifuge_sdk_recovery.py").path
            let sdk = Task { try await ChildProcess.python(script, "ws://127.0.0.1:\(r.gateways[0].port!)/connection/websocket", user.accessToken, channel.name, status) }

            #expect(try await eventually(timeout: .seconds(30)) { lines().contains("subscribed") }, "the SDK subscribed: \(lines())")
            try await r.publish(channel, ["n": 1])
            #expect(try await eventually(timeout: .seconds(30)) { lines().contains("disconnected") }, "the SDK got n=1 and disconnected: \(lines())")
            for n in 2...4 { try await r.publish(channel, ["n": n]) }
            // Let the history have them before the SDK comes back (the gateway appends on consumption).
            #expect(try await eventually(timeout: .seconds(10)) {
                (try await r.gateways[0].historyCount(channel.name)) == 4
            })
            try "published\n".appendLine(to: status)
            #expect(try await sdk.value == 0, "the SDK script failed: \(lines())")

            let result = try #require(lines().first { $0.hasPrefix("result ") }.map { String($0.dropFirst(7)) })
            let object = try #require(try JSONSerialization.jsonObject(with: Data(result.utf8)) as? [String: Any])
            let received = (object["received"] as? [[String: Any]] ?? []).compactMap { $0.object("data")?["n"] as? Int }
            #expect(received == [1, 2, 3, 4], "each publication once, in order")
            let subscriptions = object["subscribed"] as? [[String: Any]] ?? []
            #expect(subscriptions.count == 2 && subscriptions.last?["recovered"] as? Bool == true && subscriptions.last?["was_recovering"] as? Bool == true,
                    "\(subscriptions)")
        }
        await r.stop()
    }
}

extension String {
    func appendLine(to path: String) throws {
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(utf8))
    }
}

@Suite("Realtime gateway: slow consumers", .timeLimit(.minutes(3)))
struct SlowConsumerTests {
    typealias T = IdentityTests

    @Test("presence entries of a node that stopped refreshing them age out")
    func presenceExpires() async throws {
        let redis = TestServers.redis()
        let presence = PresenceStore(redis: redis, ttl: 60)
        let channel = "chat:\(TestServers.unique("job"))"
        let now = Date()
        try await presence.touch([(channel, ClientInfo(user: "u1", client: "c1"))], now: now.addingTimeInterval(-120))  // a dead node's
        try await presence.touch([(channel, ClientInfo(user: "u2", client: "c2"))], now: now)
        #expect(try await presence.list(channel, now: now).map(\.user) == ["u2"])
        try await presence.remove(channel: channel, client: "c2")
        #expect(try await presence.list(channel, now: now).isEmpty)
        await redis.shutdown()
    }

    @Test("a send queue conflates positions per channel and refuses past its byte limit")
    func sendQueue() async {
        let queue = SendQueueProbe(maxBytes: 100, slowAfter: .milliseconds(200))
        #expect(queue.push("a", key: "location:1") && queue.push("b", key: "location:1") && queue.push("x", key: nil))
        #expect(queue.push("c", key: "location:1"))
        #expect(queue.next() == ["c", "x"], "the newest position replaced the unsent ones, in the first one's place")
        // A burst over the soft limit is allowed for a while; the hard limit (8×) never.
        #expect(queue.push(String(repeating: "z", count: 150), key: nil) && !queue.isSlow)
        #expect(!queue.push(String(repeating: "z", count: 700), key: nil), "past 800 bytes: refused at once")
        try? await Task.sleep(for: .milliseconds(300))
        #expect(queue.isSlow, "over the soft limit for longer than allowed")
        #expect(!queue.push("y", key: nil), "refused: a slow consumer")
        #expect(queue.next()?.count == 1 && !queue.isSlow, "drained: keeping up again")
    }

    @Test("a client that stops reading is disconnected with 3008 and does not hold back the others")
    func slowConsumerIsDropped() async throws {
        let r = try await RealtimeHarness.start(configure: { $0.maxQueuedBytes = 4 << 20; $0.slowConsumerAfter = .seconds(3) })
        try await r.dispatch.app.test(.router) { api in
            let user = try await T.register(api, email: T.email())
            let channel = RealtimeChannel.user(user.user.id)
            let slow = try await RawWebSocket.open(port: r.gateways[0].port!)
            try slow.sendText(#"{"id":1,"connect":{"token":"\#(user.accessToken)"}}"#)
            try slow.sendText(#"{"id":2,"subscribe":{"channel":"\#(channel.name)"}}"#)
            let fast = try await r.connected(user.accessToken)
            _ = try await fast.command("subscribe", ["channel": channel.name])
            try await Task.sleep(for: .milliseconds(200))

            // 600 publications of ~32 KB (19 MB): far more than the sockets and the queue hold.
            let filler = String(repeating: "x", count: 32_000)
            try await r.publisher.producer.sendBatch((1...600).map {
                RealtimeBus.message(.publication, channel: channel.name, data: Array(#"{"n":\#($0),"filler":"\#(filler)"}"#.utf8), info: nil,
                                    topic: r.publisher.topic)
            })
            #expect(try await eventually(timeout: .seconds(60)) { fast.pushes("pub", channel: channel.name).count == 600 },
                    "the reading client got everything")
            #expect(try await eventually(timeout: .seconds(30)) { r.gateways[0].slowConsumerDisconnects == 1 }, "exactly one slow consumer")
            // Reading again lets the stuck write finish; the close frame follows it.
            #expect(await slow.drainUntilClosed(timeout: 10) == 3008, "the one that stopped reading was told it is too slow")
            await fast.close()
        }
        await r.stop()
    }
}
