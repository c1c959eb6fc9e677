import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MarketplaceDispatch
import MarketplaceDomain
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
        for topic in [h.prefix + RealtimeBus.topic, h.dispatch.jobsTopic, h.dispatch.offersTopic, h.dispatch.requestsTopic] {
            try await h.platform.admin.ensureTopic(topic, partitions: 2)
        }
        let gateways = (0..<nodes).map { node in
            var configuration = RealtimeConfiguration(port: 0, nodeID: TestServers.unique("node\(node)"), topicPrefix: h.prefix)
            configure(&configuration)
            return PlatformRunner.makeGateway(h.platform, configuration: configuration)
        }
        let services: [any Service] = gateways + extraServices(h)
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, logger: Logger(label: "test")))
        let running = Task { try await group.run() }
        #expect(try await eventually(timeout: .seconds(30)) { gateways.allSatisfy(\.isReady) }, "gateways listening and assigned")
        return RealtimeHarness(dispatch: h, gateways: gateways, publisher: RealtimePublisher(producer: h.platform.producer, topicPrefix: h.prefix),
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
        for topic in [dispatch.prefix + RealtimeBus.topic, dispatch.dispatch.jobsTopic, dispatch.dispatch.offersTopic, dispatch.dispatch.requestsTopic] {
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
        let r = try await RealtimeHarness.start(configure: { $0.commandsPerSecond = 20; $0.commandBurst = 40; $0.maxMessageBytes = 8192; $0.maxSubscriptions = 3 })
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
            // (60 commands in one frame: the server reads them faster than the bucket refills.)
            ws.sendRaw((1001...1060).map { #"{"id":\#($0),"presence_stats":{"channel":"\#(mine)"}}"# }.joined(separator: "\n"))
            var tooMany = 0
            for id in 1001...1060 where try await ws.waitFor({ $0["id"] as? Int == id }).object("error")?["code"] as? Int == 111 { tooMany += 1 }
            #expect(tooMany >= 20, "burst 40 of 60: at least 20 refused, \(tooMany) were")

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
}
