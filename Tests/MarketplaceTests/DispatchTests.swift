import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MarketplaceAWS
import MarketplaceAnalytics
import MarketplaceChat
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceHTTP
import MarketplaceIdentity
import MarketplaceKafka
import MarketplaceMessaging
import MarketplaceMongo
import MarketplaceNotifications
import MarketplacePayments
import MarketplacePlatform
import MarketplaceRealtime
import ServiceLifecycle
import Testing

@Suite("Dispatch: catalog and provider presence", .timeLimit(.minutes(3)))
struct DispatchTests {
    typealias T = IdentityTests

    struct Harness {
        let platform: Platform
        let identity: IdentityService
        let dispatch: DispatchService
        /// Identity, Dispatch and Realtime as one process has them (workers are built from it).
        let composition: Composition
        let realtime: RealtimeModule
        let chat: ChatModule
        let notifications: NotificationsModule
        /// With `payments:` options only: requests then need a card hold.
        let payments: PaymentsModule?
        let app: Application<RouterResponder<AppRequestContext>>
        let prefix: String

        var topics: TopicNames { platform.topics }
        /// A worker of the composition, as `marketplace worker <name>` runs it.
        func worker(_ name: String) throws -> any Service { try composition.workerServices([name])[0] }
    }

    static func harness(chatPolicy: ChatPolicy = ChatPolicy(), notifications: NotificationTests.Options = .init(),
                        payments: PaymentTests.Options? = nil) async throws -> Harness {
        var configuration = PlatformConfiguration()
        configuration.kafkaBrokers = TestServers.kafkaBrokers
        configuration.kafkaTopicPrefix = TestServers.unique("dispatch") + "."
        configuration.mongoURI = TestServers.mongoURI
        configuration.mongoDatabase = TestServers.unique("dispatch")
        configuration.redisHost = TestServers.redisHost
        configuration.redisPort = TestServers.redisPort
        let platform = try Platform(configuration: configuration, logger: Logger(label: "test"))
        let ports = Ports()
        let identity = IdentityModule(service: IdentityService(mongo: platform.mongo, redis: platform.redis), ports: ports)
        let paymentsModule = try payments.map { try PaymentTests.module(platform: platform, ports: ports, options: $0) }
        let dispatch = try await DispatchModule(context: ModuleContext(platform: platform, module: DispatchModule.name, ports: ports))
        let realtime = try await RealtimeModule(context: ModuleContext(platform: platform, module: RealtimeModule.name, ports: ports))
        let s3 = S3Client(configuration: TestServers.s3(bucket: TestServers.unique("chat")))
        let chat = ChatModule(service: ChatService(mongo: platform.mongo, jobs: MongoJobAccessDirectory(mongo: platform.mongo), fanOut: BridgeFanOut(),
                                                   store: S3AttachmentStore(s3: s3),
                                                   rateLimiter: MessageRateLimiter(redis: platform.redis, rate: chatPolicy.messagesPerSecond,
                                                                                   burst: chatPolicy.messageBurst),
                                                   policy: chatPolicy),
                              s3: s3)
        let notificationsModule = try await NotificationTests.module(platform: platform, ports: ports, options: notifications)
        let analytics = try AnalyticsModule(service: AnalyticsService(mongo: platform.mongo))
        let built: [any ServiceModule] = [identity] + (paymentsModule.map { [$0] } ?? []) + [dispatch, realtime, chat, notificationsModule, analytics]
        let composition = Composition(platform: platform, built: built, ports: ports)
        try await composition.prepare()
        try await platform.redis.delete("login-failures:address:unknown")
        try await platform.admin.ensureTopic(platform.topics.name(.providerLocations), partitions: 2)
        return Harness(platform: platform, identity: identity.service, dispatch: dispatch.service, composition: composition,
                       realtime: realtime, chat: chat, notifications: notificationsModule, payments: paymentsModule, app: Application(router: try composition.makeRouter(api: true)), prefix: configuration.kafkaTopicPrefix)
    }

    /// An admin token and a fresh active category.
    static func adminAndCategory(_ h: Harness, _ client: some TestClientProtocol) async throws -> (admin: String, category: String) {
        let admin = try await IdentityAccountTests.admin(IdentityTests.Harness(platform: h.platform, service: h.identity, app: h.app), client)
        let category = TestServers.unique("cat")
        try await client.execute(uri: "/v1/categories", method: .post, headers: IdentityTests.bearer(admin),
                                 body: IdentityTests.json(["slug": category, "name": "C"])) { #expect($0.status == .created) }
        return (admin, category)
    }

    /// A registered provider, online in `category` at `offsetLat` degrees north of (38.72, -9.14).
    static func onlineProvider(_ client: some TestClientProtocol, index: ProviderPresenceIndex, category: String, offsetLat: Double) async throws -> IdentityTests.Tokens {
        let provider = try await IdentityTests.register(client, email: IdentityTests.email(), role: "provider")
        try await index.apply(DispatchEvents.AvailabilityChanged(providerId: provider.user.id, online: true, categories: [category], at: Date()))
        try await index.apply(DispatchEvents.LocationUpdated(providerId: provider.user.id, lat: 38.72 + offsetLat, lng: -9.14, at: Date()))
        return provider
    }

    /// The `request.created` event of a request, as its outbox entry holds it (a Kafka redelivery).
    static func createdEvent(_ h: Harness, requestID: String) async throws -> EventEnvelope {
        let entry = try #require(try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
            .findOne(["type": "marketplace.request.created.v1", "aggregateId": .string(requestID)]))
        return EventEnvelope(id: entry.eventId, source: entry.source, type: EventType(rawValue: entry.type), time: entry.time,
                             aggregateID: entry.aggregateId, data: Array(entry.data), traceparent: entry.traceparent)
    }

    static func close(_ h: Harness) async {
        try? await h.platform.admin.deleteTopic(h.topics.name(.providerLocations))
        await h.platform.close()
    }

    @Test("categories: admins create, rename and retire; anyone lists the active ones")
    func catalog() async throws {
        let h = try await Self.harness()
        try await h.app.test(.router) { client in
            let admin = try await IdentityAccountTests.admin(IdentityTests.Harness(platform: h.platform, service: h.identity, app: h.app), client)
            let user = try await T.register(client, email: T.email())
            let slug = TestServers.unique("plumbing")
            try await client.execute(uri: "/v1/categories", method: .post, headers: T.bearer(admin), body: T.json(["slug": slug, "name": "Plumbing"])) { response throws in
                #expect(response.status == .created)
                #expect(try JSONDecoder().decode(CategoryView.self, from: Data(response.body.readableBytesView)).slug == slug)
            }
            try await client.execute(uri: "/v1/categories", method: .post, headers: T.bearer(admin), body: T.json(["slug": slug, "name": "Again"])) { response throws in
                #expect(response.status == .conflict)
                #expect(try T.problem(response).code == "category_exists")
            }
            try await client.execute(uri: "/v1/categories", method: .post, headers: T.bearer(admin), body: T.json(["slug": "Bad Slug", "name": "X"])) { #expect($0.status == .unprocessableContent) }
            try await client.execute(uri: "/v1/categories", method: .post, headers: T.bearer(user.accessToken), body: T.json(["slug": "x", "name": "X"])) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/v1/categories", method: .post, body: T.json(["slug": "x", "name": "X"])) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/categories/\(slug)", method: .put, headers: T.bearer(admin), body: T.json(["name": "Plumbing & heating"])) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/categories", method: .get) { response throws in
                let list = try JSONDecoder().decode([CategoryView].self, from: Data(response.body.readableBytesView))
                #expect(list.contains(CategoryView(slug: slug, name: "Plumbing & heating", description: nil, status: .active)))
            }
            try await client.execute(uri: "/v1/categories/\(slug)", method: .delete, headers: T.bearer(admin)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/categories", method: .get) { response throws in
                let list = try JSONDecoder().decode([CategoryView].self, from: Data(response.body.readableBytesView))
                #expect(!list.contains { $0.slug == slug })
            }
            try await client.execute(uri: "/v1/categories/\(slug)", method: .delete, headers: T.bearer(admin)) { #expect($0.status == .notFound) }
        }
        await Self.close(h)
    }

    @Test("a provider goes online and reports its position; the worker indexes it; offline removes it")
    func presenceFlow() async throws {
        let h = try await Self.harness()
        let category = TestServers.unique("cat")
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        let worker = try h.worker("provider-locations")
        let group = ServiceGroup(configuration: .init(services: [.init(service: worker)], logger: Logger(label: "test")))
        let lisbon = Coordinates(lat: 38.7223, lng: -9.1393)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await h.app.test(.router) { client in
                let provider = try await T.register(client, email: T.email(), role: "provider")
                let customer = try await T.register(client, email: T.email(), role: "client")
                try await client.execute(uri: "/v1/providers/me/availability", method: .put, headers: T.bearer(provider.accessToken),
                                         body: T.json(["online": true])) { response throws in
                    #expect(response.status == .conflict)
                    #expect(try T.problem(response).code == "profile_required")
                }
                var profile = IdentityAccountTests.profile
                profile["categories"] = [category]
                try await client.execute(uri: "/v1/providers/me/profile", method: .put, headers: T.bearer(provider.accessToken), body: T.json(profile)) { #expect($0.status == .ok) }
                try await client.execute(uri: "/v1/providers/me/availability", method: .put, headers: T.bearer(provider.accessToken),
                                         body: T.json(["online": true])) { #expect($0.status == .ok) }
                try await client.execute(uri: "/v1/providers/me/location", method: .post, headers: T.bearer(provider.accessToken),
                                         body: T.json(["lat": lisbon.lat, "lng": lisbon.lng])) { #expect($0.status == .accepted) }
                for bad in [["lat": 91.0, "lng": 0.0], ["lat": 0.0, "lng": 181.0]] {
                    try await client.execute(uri: "/v1/providers/me/location", method: .post, headers: T.bearer(provider.accessToken), body: T.json(bad)) { response throws in
                        #expect(response.status == .unprocessableContent)
                    }
                }
                try await client.execute(uri: "/v1/providers/me/location", method: .post, headers: T.bearer(provider.accessToken),
                                         body: T.json(["lat": "north"])) { #expect($0.status == .badRequest) }
                try await client.execute(uri: "/v1/providers/me/location", method: .post, headers: T.bearer(customer.accessToken),
                                         body: T.json(["lat": 1.0, "lng": 1.0])) { #expect($0.status == .forbidden) }

                // The worker consumed the events: the provider is found near Lisbon, 1 km away.
                let near = Coordinates(lat: 38.7313, lng: -9.1393)
                #expect(try await eventually(timeout: .seconds(45)) {
                    try await index.nearby(category: category, at: near, radiusKm: 5).map(\.providerId) == [provider.user.id]
                }, "the provider should appear in the index")
                let found = try await index.nearby(category: category, at: near, radiusKm: 5)
                #expect(abs((found.first?.distanceKm ?? 0) - 1.0) < 0.05)
                #expect(try await index.nearby(category: category, at: Coordinates(lat: 41.15, lng: -8.63), radiusKm: 5).isEmpty, "Porto is too far")

                try await client.execute(uri: "/v1/providers/me/availability", method: .put, headers: T.bearer(provider.accessToken),
                                         body: T.json(["online": false])) { #expect($0.status == .ok) }
                #expect(try await eventually(timeout: .seconds(20)) {
                    try await index.nearby(category: category, at: near, radiusKm: 5).isEmpty
                }, "offline providers leave the index")
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        await Self.close(h)
    }

    @Test("the index ignores stale events and drops providers silent for longer than its limit")
    func indexStalenessAndOrder() async throws {
        let redis = TestServers.redis()
        // A 10 s limit and timestamps within the last 20 s: the index is shared, and other
        // suites' workers sweep providers silent for over 60 s by the clock (CI saw one sweep this
        // provider mid-test twice when its events were 90 s old).
        let index = ProviderPresenceIndex(redis: redis, silenceLimit: 10)
        let category = TestServers.unique("cat")
        let provider = TestServers.unique("p")
        let now = Date()
        try await index.apply(DispatchEvents.AvailabilityChanged(providerId: provider, online: true, categories: [category], at: now.addingTimeInterval(-20)))
        try await index.apply(DispatchEvents.LocationUpdated(providerId: provider, lat: 38.72, lng: -9.14, at: now.addingTimeInterval(-15)))
        let point = Coordinates(lat: 38.72, lng: -9.14)
        #expect(try await index.nearby(category: category, at: point, radiusKm: 1, now: now).isEmpty, "silent for 15 s: not offered")
        #expect(try await index.nearby(category: category, at: point, radiusKm: 1, now: now.addingTimeInterval(-10)).count == 1)

        try await index.apply(DispatchEvents.LocationUpdated(providerId: provider, lat: 38.72, lng: -9.14, at: now))
        // A late, older event (a redelivery) changes nothing.
        try await index.apply(DispatchEvents.AvailabilityChanged(providerId: provider, online: false, categories: [category], at: now.addingTimeInterval(-18)))
        #expect(try await index.nearby(category: category, at: point, radiusKm: 1, now: now).count == 1)

        #expect(try await index.sweep(now: now.addingTimeInterval(11)) >= 1)
        #expect(try await index.nearby(category: category, at: point, radiusKm: 1, now: now).isEmpty, "swept from the GEO set")
        await redis.shutdown()
    }
}

@Suite("Dispatch: provider search", .timeLimit(.minutes(2)))
struct ProviderSearchTests {
    typealias T = IdentityTests

    @Test("search filters by category, distance, rating and price, sorts, paginates with totals, and names bad parameters")
    func search() async throws {
        let h = try await DispatchTests.harness()
        let category = TestServers.unique("cat")
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        let centre = Coordinates(lat: 38.7223, lng: -9.1393)
        try await h.app.test(.router) { client in
            // Three providers: 1 km / 30.00 / 4.8, 3 km / 50.00 / 3.5, 20 km / 70.00 / no rating.
            var ids: [String] = []
            for (rate, offsetLat) in [("30.00", 0.009), ("50.00", 0.027), ("70.00", 0.18)] {
                let provider = try await T.register(client, email: T.email(), role: "provider")
                var profile = IdentityAccountTests.profile
                profile["categories"] = [category]
                profile["pricing"] = ["currency": "EUR", "hourlyRate": rate]
                try await client.execute(uri: "/v1/providers/me/profile", method: .put, headers: T.bearer(provider.accessToken), body: T.json(profile)) { #expect($0.status == .ok) }
                try await index.apply(DispatchEvents.AvailabilityChanged(providerId: provider.user.id, online: true, categories: [category], at: Date()))
                try await index.apply(DispatchEvents.LocationUpdated(providerId: provider.user.id, lat: centre.lat + offsetLat, lng: centre.lng, at: Date()))
                ids.append(provider.user.id)
            }
            let profiles = h.platform.mongo.collection("provider_profiles", as: BSONDocument.self)
            try await profiles.updateOne(["_id": .string(ids[0])], ["$set": ["rating": 4.8]])
            try await profiles.updateOne(["_id": .string(ids[1])], ["$set": ["rating": 3.5]])

            func search(_ query: String) async throws -> ProviderSearch.Page {
                try await client.execute(uri: "/v1/providers?category=\(category)&\(query)", method: .get) { response throws in
                    #expect(response.status == .ok, "\(query): \(String(buffer: response.body))")
                    return try JSONDecoder().decode(ProviderSearch.Page.self, from: Data(response.body.readableBytesView))
                }
            }
            let near = try await search("near=\(centre.lat),\(centre.lng)&radiusKm=5")
            #expect(near.items.map(\.providerId) == [ids[0], ids[1]])
            #expect(near.total == 2)
            #expect(abs((near.items.first?.distanceKm ?? 0) - 1.0) < 0.05)
            #expect(try await search("near=\(centre.lat),\(centre.lng)&radiusKm=5&maxPrice=40").items.map(\.providerId) == [ids[0]])
            #expect(try await search("sort=price").items.map(\.providerId) == ids)
            let second = try await search("sort=price&limit=2&page=2")
            #expect(second.items.map(\.providerId) == [ids[2]] && second.total == 3)
            #expect(try await search("minRating=4").items.map(\.providerId) == [ids[0]])
            #expect(try await search("sort=rating").items.map(\.providerId) == [ids[0], ids[1], ids[2]])
            #expect(try await search("sort=price").items.first?.hourlyRate == "30.00")

            for (query, parameter) in [("", "category"), ("category=\(category)&near=abc", "near"), ("category=\(category)&near=95,0", "near"),
                                       ("category=\(category)&sort=distance", "sort"), ("category=\(category)&maxPrice=-1", "maxPrice"),
                                       ("category=\(category)&limit=0", "limit"), ("category=\(category)&radiusKm=5", "radiusKm")] {
                try await client.execute(uri: "/v1/providers?\(query)", method: .get) { response throws in
                    #expect(response.status == .badRequest, "\(query)")
                    #expect(try T.problem(response).detail?.hasPrefix(parameter) == true, "\(query)")
                }
            }
        }
        await DispatchTests.close(h)
    }
}

@Suite("Dispatch: service requests", .timeLimit(.minutes(2)))
struct ServiceRequestTests {
    typealias T = IdentityTests

    @Test("clients create, read, list and cancel requests; events go through the outbox; refusals are precise")
    func requests() async throws {
        let h = try await DispatchTests.harness()
        try await h.app.test(.router) { client in
            let (admin, category) = try await DispatchTests.adminAndCategory(h, client)
            let customer = try await T.register(client, email: T.email())
            let other = try await T.register(client, email: T.email())
            let provider = try await T.register(client, email: T.email(), role: "provider")
            let valid: [String: Any] = ["categoryId": category, "location": ["lat": 38.72, "lng": -9.14], "address": "Rua Augusta 1, Lisboa",
                                        "description": "The kitchen tap leaks", "budget": ["amount": "80.00", "currency": "EUR"],
                                        "scheduledFor": ISO8601DateFormatter().string(from: Date().addingTimeInterval(3600))]

            let created: ServiceRequestView = try await client.execute(uri: "/v1/requests", method: .post, headers: T.bearer(customer.accessToken),
                                                                       body: T.json(valid)) { response throws in
                #expect(response.status == .created, "\(String(buffer: response.body))")
                // Money travels as a decimal string with the currency's minor digits, never a float.
                #expect(String(buffer: response.body).contains(#""budget":{"amount":"80.00","currency":"EUR"}"#), "\(String(buffer: response.body))")
                return try JSONDecoder.iso.decode(ServiceRequestView.self, from: response.body)
            }
            #expect(created.status == .searching && created.clientId == customer.user.id)
            #expect(created.budget == Money(amount: 80, currency: "EUR"))
            // ... and is stored as an exact decimal128.
            let stored = try #require(try await h.platform.mongo.collection("service_requests", as: BSONDocument.self).findOne(["_id": .string(created.id)]))
            if case .document(let budget) = stored["budget"] { #expect(budget["amount"] == .decimal128(Decimal128("80")!)) } else { Issue.record("no budget") }

            var refusals: [([String: Any], HTTPResponse.Status, String, String)] = []
            var bad = valid; bad["location"] = ["lat": 100.0, "lng": 0.0]; refusals.append((bad, .unprocessableContent, "validation_failed", "customer"))
            bad = valid; bad["categoryId"] = "no-such-category"; refusals.append((bad, .unprocessableContent, "unknown_category", "customer"))
            bad = valid; bad["description"] = ""; refusals.append((bad, .unprocessableContent, "validation_failed", "customer"))
            bad = valid; bad["scheduledFor"] = "tomorrow"; refusals.append((bad, .badRequest, "invalid_field", "customer"))
            bad = valid; bad.removeValue(forKey: "location"); refusals.append((bad, .badRequest, "missing_field", "customer"))
            refusals.append((valid, .forbidden, "forbidden", "provider"))
            for (body, status, code, who) in refusals {
                let token = who == "provider" ? provider.accessToken : customer.accessToken
                try await client.execute(uri: "/v1/requests", method: .post, headers: T.bearer(token), body: T.json(body)) { response throws in
                    #expect(response.status == status, "\(code)")
                    let actual = try T.problem(response).code
                    #expect(actual == code, "expected \(code), got \(actual)")
                }
            }

            try await client.execute(uri: "/v1/requests/\(created.id)", method: .get, headers: T.bearer(customer.accessToken)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/requests/\(created.id)", method: .get, headers: T.bearer(admin)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/requests/\(created.id)", method: .get, headers: T.bearer(other.accessToken)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/requests/\(created.id)", method: .get) { #expect($0.status == .unauthorized) }

            _ = try await client.execute(uri: "/v1/requests", method: .post, headers: T.bearer(customer.accessToken), body: T.json(valid)) { $0.status }
            try await client.execute(uri: "/v1/requests?limit=1", method: .get, headers: T.bearer(customer.accessToken)) { response throws in
                let page = try JSONDecoder.iso.decode(DispatchService.RequestPage.self, from: response.body)
                #expect(page.total == 2 && page.items.count == 1)
            }
            try await client.execute(uri: "/v1/requests?status=bogus", method: .get, headers: T.bearer(customer.accessToken)) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v1/requests", method: .get, headers: T.bearer(other.accessToken)) { response throws in
                #expect(try JSONDecoder.iso.decode(DispatchService.RequestPage.self, from: response.body).total == 0)
            }

            try await client.execute(uri: "/v1/requests/\(created.id)/cancel", method: .post, headers: T.bearer(other.accessToken),
                                     body: T.json([:])) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/requests/\(created.id)/cancel", method: .post, headers: T.bearer(customer.accessToken),
                                     body: T.json(["reason": "fixed it myself"])) { response throws in
                #expect(response.status == .ok)
                let view = try JSONDecoder.iso.decode(ServiceRequestView.self, from: response.body)
                #expect(view.status == .cancelled && view.cancellationReason == "fixed it myself")
            }
            try await client.execute(uri: "/v1/requests/\(created.id)/cancel", method: .post, headers: T.bearer(customer.accessToken),
                                     body: T.json([:])) { response throws in
                #expect(response.status == .conflict)
                #expect(try T.problem(response).code == "invalid_transition")
            }
        }
        let events = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self).find([:], options: FindOptions(sort: ["_id": 1]))
        let requestEvents = events.filter { $0.topic == Topic.serviceRequests.rawValue }.map(\.type)
        #expect(requestEvents == ["marketplace.request.created.v1", "marketplace.request.created.v1", "marketplace.request.cancelled.v1"])
        await DispatchTests.close(h)
    }
}

@Suite("Dispatch: offers", .timeLimit(.minutes(3)))
struct OfferTests {
    typealias T = IdentityTests

    @Test("a request reaches nearby providers as offers; two accept at once; exactly one wins; a redelivery offers nobody twice")
    func offerFlow() async throws {
        let h = try await DispatchTests.harness()
        for topic in h.topics.names([.serviceRequests, .offers, .jobs]) {
            try await h.platform.admin.ensureTopic(topic, partitions: 2)
        }
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        let relay = OutboxRelay(mongo: h.platform.mongo, producer: h.platform.producer, topics: h.topics, configuration: .init(idleInterval: .milliseconds(20)))
        let worker = try h.worker("dispatch")
        let group = ServiceGroup(configuration: .init(services: [.init(service: relay), .init(service: worker)], logger: Logger(label: "test")))
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            try await h.app.test(.router) { client in
                let (_, category) = try await DispatchTests.adminAndCategory(h, client)
                var providers: [IdentityTests.Tokens] = []
                for offset in [0.005, 0.01] {
                    let provider = try await DispatchTests.onlineProvider(client, index: index, category: category, offsetLat: offset)
                    var profile = IdentityAccountTests.profile
                    profile["categories"] = [category]
                    try await client.execute(uri: "/v1/providers/me/profile", method: .put, headers: T.bearer(provider.accessToken), body: T.json(profile)) { #expect($0.status == .ok) }
                    providers.append(provider)
                }
                let customer = try await T.register(client, email: T.email())
                let request: ServiceRequestView = try await client.execute(uri: "/v1/requests", method: .post, headers: T.bearer(customer.accessToken), body: T.json([
                    "categoryId": category, "location": ["lat": 38.72, "lng": -9.14], "address": "Rua 1", "description": "Leak"])) { response throws in
                    #expect(response.status == .created)
                    return try JSONDecoder.iso.decode(ServiceRequestView.self, from: response.body)
                }

                // Both providers receive an offer (request → outbox → Kafka → dispatch worker).
                var offerIDs: [String] = []
                for provider in providers {
                    var offers: [OfferView] = []
                    #expect(try await eventually(timeout: .seconds(45)) {
                        offers = try await client.execute(uri: "/v1/offers", method: .get, headers: T.bearer(provider.accessToken)) { response throws in
                            try JSONDecoder.iso.decode([OfferView].self, from: response.body)
                        }
                        return offers.count == 1
                    }, "each provider gets one offer")
                    #expect(offers.first?.requestId == request.id)
                    offerIDs.append(try #require(offers.first?.id))
                }
                try await client.execute(uri: "/v1/offers/\(offerIDs[0])/accept", method: .post, headers: T.bearer(customer.accessToken)) { #expect($0.status == .forbidden) }
                try await client.execute(uri: "/v1/offers/\(offerIDs[0])/accept", method: .post, headers: T.bearer(providers[1].accessToken)) { #expect($0.status == .notFound) }

                // Both accept at once: one 200, one 409.
                let ids = offerIDs
                let tokens = providers.map(\.accessToken)
                let statuses = try await withThrowingTaskGroup(of: (Int, HTTPResponse.Status).self) { accepts in
                    for index in 0..<2 {
                        accepts.addTask {
                            (index, try await client.execute(uri: "/v1/offers/\(ids[index])/accept", method: .post,
                                                              headers: T.bearer(tokens[index])) { $0.status })
                        }
                    }
                    return try await accepts.reduce(into: [Int: HTTPResponse.Status]()) { $0[$1.0] = $1.1 }
                }
                #expect(statuses.values.filter { $0 == .ok }.count == 1)
                #expect(statuses.values.filter { $0 == .conflict }.count == 1)
                let winner = statuses.first { $0.value == .ok }!.key
                try await client.execute(uri: "/v1/requests/\(request.id)", method: .get, headers: T.bearer(customer.accessToken)) { response throws in
                    #expect(try JSONDecoder.iso.decode(ServiceRequestView.self, from: response.body).status == .assigned)
                }
                try await client.execute(uri: "/v1/offers", method: .get, headers: T.bearer(providers[1 - winner].accessToken)) { response throws in
                    #expect(try JSONDecoder.iso.decode([OfferView].self, from: response.body).isEmpty, "the loser's offer is withdrawn")
                }
                let jobs = try await h.platform.mongo.collection("jobs", as: Job.self).find(["requestId": .string(request.id)])
                #expect(jobs.count == 1 && jobs.first?.providerId == providers[winner].user.id && jobs.first?.status == .assigned)

                // Kafka redelivers request.created: the inbox keeps the offers as they were.
                try await h.dispatch.dispatch(try await DispatchTests.createdEvent(h, requestID: request.id), index: index)
                #expect(try await h.platform.mongo.collection("offers", as: Offer.self).count(["requestId": .string(request.id)]) == 2)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        for topic in h.topics.names([.serviceRequests, .offers, .jobs]) { try? await h.platform.admin.deleteTopic(topic) }
        await DispatchTests.close(h)
    }
}

@Suite("Dispatch: waves", .timeLimit(.minutes(2)))
struct WaveTests {
    typealias T = IdentityTests

    @Test("unanswered offers expire; the next wave widens the radius and offers nobody twice; past the deadline the request is unfulfilled")
    func wavesAndDeadline() async throws {
        let h = try await DispatchTests.harness()
        let dispatch = DispatchService(mongo: h.platform.mongo, publisher: KafkaEventPublisher(producer: h.platform.producer, topics: h.topics),
                                       directory: MongoProviderDirectory(mongo: h.platform.mongo),
                                       policy: DispatchPolicy(waveSize: 3, firstRadiusKm: 10, maxRadiusKm: 40, offerLifetime: 20, deadline: 60))
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        try await h.app.test(.router) { client in
            let (_, category) = try await DispatchTests.adminAndCategory(h, client)
            // Near: 1 km; far: ~15 km (outside the first 10 km wave, inside the second 20 km one).
            var providers: [IdentityTests.Tokens] = []
            for offset in [0.009, 0.135] {
                providers.append(try await DispatchTests.onlineProvider(client, index: index, category: category, offsetLat: offset))
            }
            let customer = try await T.register(client, email: T.email())
            let request: ServiceRequestView = try await client.execute(uri: "/v1/requests", method: .post, headers: T.bearer(customer.accessToken), body: T.json([
                "categoryId": category, "location": ["lat": 38.72, "lng": -9.14], "address": "Rua 1", "description": "Leak"])) { response throws in
                try JSONDecoder.iso.decode(ServiceRequestView.self, from: response.body)
            }
            try await dispatch.dispatch(try await DispatchTests.createdEvent(h, requestID: request.id), index: index)
            let offers = h.platform.mongo.collection("offers", as: Offer.self)
            func statuses() async throws -> [String: Offer.Status] {
                Dictionary(uniqueKeysWithValues: try await offers.find(["requestId": .string(request.id)]).map { ($0.providerId, $0.status) })
            }
            #expect(try await statuses() == [providers[0].user.id: .pending])
            // Kafka redelivers request.created while the request still searches: the dispatch
            // state's _id refuses the second decision, and the offers stay as they were.
            let created = try await DispatchTests.createdEvent(h, requestID: request.id)
            try await dispatch.dispatch(created, index: index)
            try await dispatch.dispatch(created, index: index)
            #expect(try await offers.count(["requestId": .string(request.id)]) == 1)

            // Each offer counts for the provider's acceptance rate (ranking), once.
            struct OfferStat: Codable { var _id: String; var offered: Int? }
            let offerStats = h.platform.mongo.collection("provider_offer_stats", as: OfferStat.self)
            func offered() async throws -> [String: Int] {
                let ids = BSONValue.array(providers.map { .string($0.user.id) })
                return Dictionary(uniqueKeysWithValues: try await offerStats.find(["_id": ["$in": ids]]).map { ($0._id, $0.offered ?? 0) })
            }
            #expect(try await offered() == [providers[0].user.id: 1], "the redeliveries counted nothing")

            // Nothing is due before the wave's 20 s are up.
            #expect(try await dispatch.advanceWaves(index: index, now: Date().addingTimeInterval(5)) == 0)
            #expect(try await dispatch.advanceWaves(index: index, now: Date().addingTimeInterval(21)) == 1)
            #expect(try await statuses() == [providers[0].user.id: .expired, providers[1].user.id: .pending])
            try await client.execute(uri: "/v1/offers", method: .get, headers: T.bearer(providers[1].accessToken)) { response throws in
                let list = try JSONDecoder.iso.decode([OfferView].self, from: response.body)
                #expect(list.first?.wave == 2 && abs((list.first?.distanceKm ?? 0) - 15) < 0.5)
            }
            // A second instance advancing the same wave finds nothing to do (compare-and-set on the wave).
            #expect(try await dispatch.advanceWaves(index: index, now: Date().addingTimeInterval(21)) == 0)
            #expect(try await offered() == [providers[0].user.id: 1, providers[1].user.id: 1])

            // Past the deadline: the last offers expire and the request is unfulfilled.
            #expect(try await dispatch.advanceWaves(index: index, now: Date().addingTimeInterval(61)) == 1)
            #expect(try await statuses() == [providers[0].user.id: .expired, providers[1].user.id: .expired])
            try await client.execute(uri: "/v1/requests/\(request.id)", method: .get, headers: T.bearer(customer.accessToken)) { response throws in
                #expect(try JSONDecoder.iso.decode(ServiceRequestView.self, from: response.body).status == .unfulfilled)
            }
            let types = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
                .find(["aggregateId": .string(request.id)], options: FindOptions(sort: ["_id": 1])).map(\.type)
            #expect(types == ["marketplace.request.created.v1", "marketplace.offer.sent.v1", "marketplace.offer.expired.v1",
                              "marketplace.offer.sent.v1", "marketplace.offer.expired.v1", "marketplace.request.unfulfilled.v1"])
            #expect(try await dispatch.advanceWaves(index: index, now: Date().addingTimeInterval(120)) == 0, "a finished dispatch is left alone")
        }
        await DispatchTests.close(h)
    }
}
