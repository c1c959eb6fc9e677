import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceMessaging
import MarketplaceMongo
import ServiceLifecycle
import Synchronization
import Testing

/// `marketplace worker <name>` as a child process of the test, so that it can be killed for real.
func workerProcess(_ name: String, prefix: String, database: String) throws -> ChildProcess {
    var environment = ProcessInfo.processInfo.environment
    environment["KAFKA_BROKERS"] = TestServers.kafkaBrokers
    environment["KAFKA_TOPIC_PREFIX"] = prefix
    environment["MONGO_URI"] = TestServers.mongoURI
    environment["MONGO_DATABASE"] = database
    environment["REDIS_HOST"] = TestServers.redisHost
    environment["REDIS_PORT"] = String(TestServers.redisPort)
    environment["HTTP_PORT"] = "0"
    environment["LOG_LEVEL"] = "warning"
    return try ChildProcess([DeploymentFilesTests.root.appendingPathComponent(".build/debug/marketplace").path, "worker", name], environment: environment)
}

@Suite("Dispatch: worker crash", .timeLimit(.minutes(4)))
struct WorkerCrashTests {
    typealias T = IdentityTests

    @Test("two dispatch workers share the requests; one is killed mid-stream and another started: no request is lost, nobody is offered twice")
    func killAndRestart() async throws {
        let h = try await DispatchTests.harness()
        for topic in h.topics.names([.serviceRequests, .offers]) { try await h.platform.admin.ensureTopic(topic, partitions: 4) }
        let database = h.platform.configuration.mongoDatabase
        let relay = OutboxRelay(mongo: h.platform.mongo, producer: h.platform.producer, topics: h.topics, configuration: .init(idleInterval: .milliseconds(20)))
        let group = ServiceGroup(configuration: .init(services: [.init(service: relay)], logger: Logger(label: "test")))
        let relaying = Task { try await group.run() }
        let first = try workerProcess("dispatch", prefix: h.prefix, database: database)
        // Workers still running at the end (also when the test fails) get SIGTERM.
        let running = Mutex([first, try workerProcess("dispatch", prefix: h.prefix, database: database)])

        var failure: (any Error)?
        do { try await h.app.test(.router) { client in
            let (_, category) = try await DispatchTests.adminAndCategory(h, client)
            let index = ProviderPresenceIndex(redis: h.platform.redis)
            var providers: [String] = []
            for offset in [0.005, 0.01, 0.015] {
                providers.append(try await DispatchTests.onlineProvider(client, index: index, category: category, offsetLat: offset).user.id)
            }
            // Providers report their position every few seconds, as their apps do (a provider
            // silent for 60 s drops out, and a killed worker's open transaction can hold one
            // request back for about that long).
            let reporting = Task { [providers] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: .seconds(5))
                    for (offset, provider) in zip([0.005, 0.01, 0.015], providers) {
                        try? await index.apply(DispatchEvents.LocationUpdated(providerId: provider, lat: 38.72 + offset, lng: -9.14, at: Date()))
                    }
                }
            }
            defer { reporting.cancel() }
            let customer = try await T.register(client, email: T.email())
            var requestIDs: [String] = []
            func request() async throws {
                let created: ServiceRequestView = try await client.execute(uri: "/v1/requests", method: .post, headers: T.bearer(customer.accessToken), body: T.json([
                    "categoryId": category, "location": ["lat": 38.72, "lng": -9.14], "address": "Rua 1", "description": "Leak"])) { response throws in
                    try JSONDecoder.iso.decode(ServiceRequestView.self, from: response.body)
                }
                requestIDs.append(created.id)
            }
            let states = h.platform.mongo.collection("dispatch_states", as: BSONDocument.self)
            for _ in 0..<6 { try await request() }
            // Mid-stream: at least one request dispatched, then the first worker dies.
            #expect(try await eventually(timeout: .seconds(60)) { try await states.count([:]) >= 1 }, "the workers are dispatching")
            running.withLock { $0.removeAll { $0 === first } }
            await first.signal(SIGKILL)  // no graceful shutdown, no final commit: a crash
            for _ in 0..<6 { try await request() }
            let replacement = try workerProcess("dispatch", prefix: h.prefix, database: database)
            running.withLock { $0.append(replacement) }

            let ids = BSONValue.array(requestIDs.map { .string($0) })
            #expect(try await eventually(timeout: .seconds(120)) { try await states.count(["_id": ["$in": ids]]) == 12 },
                    "every request was dispatched despite the crash")
            // Three providers in range: exactly three offers and three offer.sent events per request.
            let offers = try await h.platform.mongo.collection("offers", as: Offer.self).find(["requestId": ["$in": ids]])
            let perRequest = Dictionary(grouping: offers, by: \.requestId)
            #expect(perRequest.count == 12 && perRequest.values.allSatisfy { Set($0.map(\.providerId)).count == 3 && $0.count == 3 })
            // A wave's offer.sent events travel as one outbox entry and its companions.
            let entries = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
                .find(["type": "marketplace.offer.sent.v1", "aggregateId": ["$in": ids]])
            let sent = entries.flatMap { entry in [entry.type] + (entry.companions ?? []).map(\.type) }.filter { $0 == "marketplace.offer.sent.v1" }
            #expect(sent.count == 36, "no offer was sent twice: \(sent.count)")
        } } catch { failure = error }
        for worker in running.withLock({ $0 }) { await worker.signal(SIGTERM) }
        await group.triggerGracefulShutdown()
        _ = await relaying.result
        for topic in h.topics.names([.serviceRequests, .offers]) { try? await h.platform.admin.deleteTopic(topic) }
        await DispatchTests.close(h)
        if let failure { throw failure }
    }
}
