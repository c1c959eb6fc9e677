import Foundation
import Hummingbird
import HummingbirdTesting
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceKafka
import MarketplaceMessaging
import MarketplaceMongo
import MarketplacePlatform
import Testing

/// Topic names come from Contracts, and the environment's prefix is applied in one place: the
/// code and `topics/*.yaml` name the same topics, and in a prefixed environment every event the
/// platform emits (outbox and direct) lands on a prefixed topic that declares its type.
@Suite("Topics named once", .timeLimit(.minutes(3)))
struct TopicNamingTests {
    typealias T = IdentityTests
    typealias D = DispatchTests

    @Test("the topics the code names are exactly those topics/*.yaml declares, and every worker reads declared topics")
    func codeMatchesCatalog() async throws {
        let catalog = try TopicCatalog.load(directory: TopicTests.repositoryTopics)
        let declared = Set(catalog.topics.map(\.name))
        let named = Set(Topic.all.map(\.rawValue))
        #expect(named == declared, "named, not declared: \(named.subtracting(declared)); declared, not named: \(declared.subtracting(named))")

        let h = try await D.harness()
        for (name, _) in Composition.workers(of: h.composition.modules.map { type(of: $0) }) {
            guard let consumer = try h.worker(name) as? ConsumerWorkerService else { continue }
            #expect(!consumer.worker.topics.isEmpty, "\(name) reads no topic")
            for topic in consumer.worker.topics { #expect(declared.contains(topic.rawValue), "\(name) reads undeclared \(topic)") }
            // What librdkafka is asked for: the prefixed names, and a prefixed group.
            #expect(consumer.consumer.configuration.topics.allSatisfy { $0.hasPrefix(h.prefix) }, "\(name)")
            #expect(consumer.consumer.configuration.groupID.hasPrefix(h.prefix), "\(name)")
            #expect(consumer.consumer.deadLetter?.topic == h.prefix + Topic.deadLetter.rawValue, "\(name)")
        }
        await D.close(h)
    }

    @Test("with a prefix set, every event the platform emits lands on a prefixed topic that declares its type")
    func prefixedEnvironment() async throws {
        let h = try await D.harness()
        let catalog = try TopicCatalog.load(directory: TopicTests.repositoryTopics)
        _ = try await TopicReconciler(admin: h.platform.admin, prefix: h.prefix).apply(catalog)
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        // Availability and a position are published directly (no document change): two events.
        let directEvents = 2
        try await h.app.test(.router) { client in
            // Identity: registration, profile changes, a password reset (users, auth).
            let (_, category) = try await D.adminAndCategory(h, client)
            let customer = try await T.register(client, email: T.email())
            let provider = try await T.register(client, email: T.email(), role: "provider")
            try await client.execute(uri: "/v1/users/me", method: .patch, headers: T.bearer(customer.accessToken),
                                     body: T.json(["name": "Ana"])) { #expect($0.status == .ok) }
            var profile = IdentityAccountTests.profile
            profile["categories"] = [category]
            try await client.execute(uri: "/v1/providers/me/profile", method: .put, headers: T.bearer(provider.accessToken),
                                     body: T.json(profile)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/auth/password-reset/request", method: .post, headers: [.contentType: "application/json"],
                                     body: T.json(["email": customer.user.email])) { #expect($0.status == .accepted) }
            // Dispatch, published directly: availability and a position (provider-locations).
            try await client.execute(uri: "/v1/providers/me/availability", method: .put, headers: T.bearer(provider.accessToken),
                                     body: T.json(["online": true])) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/providers/me/location", method: .post, headers: T.bearer(provider.accessToken),
                                     body: T.json(["lat": 38.72, "lng": -9.14])) { #expect($0.status == .accepted) }
            // Dispatch through the outbox: a request, its offer, the job's steps and both reviews.
            try await index.apply(DispatchEvents.AvailabilityChanged(providerId: provider.user.id, online: true, categories: [category], at: Date()))
            try await index.apply(DispatchEvents.LocationUpdated(providerId: provider.user.id, lat: 38.721, lng: -9.14, at: Date()))
            let job = try await JobTests.assignedJob(h, client, index: index, category: category, customer: customer, provider: provider)
            for status in ["en_route", "arrived", "in_progress", "completed"] {
                #expect(try await JobTests.move(client, job, to: status, token: provider.accessToken).0 == .ok)
            }
            #expect(try await ReviewTests.review(client, job, token: customer.accessToken, rating: 5).0 == .created)
            #expect(try await ReviewTests.review(client, job, token: provider.accessToken, rating: 4).0 == .created)
        }
        let relay = OutboxRelay(mongo: h.platform.mongo, producer: h.platform.producer, topics: h.topics)
        while try await relay.relayOnce() > 0 {}
        let outbox = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self).find([:])

        let names = catalog.topics.map { h.prefix + $0.name }
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(
            client: TestServers.kafkaClient, groupID: TestServers.unique("naming"), topics: names, fetchWaitMaxMillis: 50))
        let records = try await consumer.records.collect(outbox.count + directEvents, timeout: .seconds(90))
        await consumer.close()

        for record in records {
            #expect(record.topic.hasPrefix(h.prefix), "\(record.topic) is not this environment's")
            let type = record.header("ce_type")?.stringValue ?? "?"
            let definition = catalog.topic(String(record.topic.dropFirst(h.prefix.count)))
            #expect(definition?.eventTypes.contains(type) == true, "\(type) on \(record.topic), which does not declare it")
        }
        let ids = Set(records.compactMap { $0.header("ce_id")?.stringValue })
        #expect(Set(outbox.map(\.eventId)).isSubset(of: ids), "every outbox event arrived")
        let reached = Set(records.map { String($0.topic.dropFirst(h.prefix.count)) })
        #expect(reached == Set([Topic.users, .auth, .providerLocations, .serviceRequests, .offers, .jobs, .reviews].map(\.rawValue)), "\(reached)")
        for topic in names { try? await h.platform.admin.deleteTopic(topic) }
        await D.close(h)
    }
}
