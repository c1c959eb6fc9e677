import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MarketplaceAnalytics
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo
import MarketplacePlatform
import Testing

/// Analytics against SecantusDB (and, end to end, Tansu and the real workers): events at known
/// times folded into buckets, read back as series that must equal what the test computes.
@Suite("Analytics: event-time aggregates", .timeLimit(.minutes(3)))
struct AnalyticsTests {
    typealias T = IdentityTests
    typealias D = DispatchTests

    static func at(_ text: String) -> Date { try! Date(text, strategy: .iso8601) }

    static func event<P: Encodable>(_ type: EventType, _ payload: P, at time: String, id: String = UUID().uuidString.lowercased()) throws -> EventEnvelope {
        var envelope = try EventEnvelope(source: "/test", type: type, aggregateID: "x", payload: payload, time: at(time))
        envelope.id = id
        return envelope
    }

    static func offer(_ type: EventType, _ offerID: String, provider: String, at time: String) throws -> EventEnvelope {
        try event(type, DispatchEvents.OfferEvent(offerId: offerID, requestId: "r-\(offerID)", providerId: provider, wave: 1), at: time)
    }

    @Test("a provider's days are in their time zone across midnight; redelivered events count once; a late event lands in its own bucket, one past the grace period not at all; percentiles come from merged histograms; one write per bucket per batch")
    func eventTimeBuckets() async throws {
        let mongo = try TestServers.mongo()
        let service = AnalyticsService(mongo: mongo)
        try await service.prepare()
        let now = Self.at("2026-12-02T12:00:00Z")
        let provider = "p-\(UUID().uuidString.prefix(8))"
        // São Paulo is UTC-3: 01:00Z on Dec 1 is still Nov 30 there.
        let profile = try Self.event(IdentityEvents.providerProfileUpdated,
                                     IdentityEvents.ProviderProfileUpdated(providerId: provider, categories: ["c"], serviceRadiusKm: 10, currency: "BRL",
                                                                           hourlyRate: "50", timeZone: "America/Sao_Paulo"), at: "2026-11-01T00:00:00Z")
        let batch = [profile,
                     try Self.offer(DispatchEvents.offerSent, "o1", provider: provider, at: "2026-12-01T01:00:00Z"),
                     try Self.offer(DispatchEvents.offerAccepted, "o1", provider: provider, at: "2026-12-01T01:00:30Z"),
                     try Self.offer(DispatchEvents.offerSent, "o2", provider: provider, at: "2026-12-01T04:00:00Z"),
                     try Self.offer(DispatchEvents.offerDeclined, "o2", provider: provider, at: "2026-12-01T04:00:10Z"),
                     try Self.offer(DispatchEvents.offerSent, "o3", provider: provider, at: "2026-12-01T04:10:00Z"),
                     try Self.offer(DispatchEvents.offerExpired, "o3", provider: provider, at: "2026-12-01T04:10:20Z")]
        let first = try await service.apply(batch, now: now)
        #expect(first.counted == 6 && first.late == 1 && first.duplicates == 0, "the month-old profile is remembered, not counted")
        let again = try await service.apply(batch, now: now)
        #expect(again.counted == 0 && again.duplicates == 7 && again.bucketWrites == 0, "a redelivered batch changes nothing")

        // Late by two days (still within the week's grace): its own bucket. Twelve days late: not counted.
        let late = try await service.apply([try Self.offer(DispatchEvents.offerSent, "o4", provider: provider, at: "2026-11-29T15:00:00Z"),
                                            try Self.offer(DispatchEvents.offerSent, "o5", provider: provider, at: "2026-11-20T15:00:00Z")], now: now)
        #expect(late.counted == 1 && late.late == 1)

        let series = try await service.providerAnalytics(providerID: provider, from: "2026-11-29", to: "2026-12-02", granularity: "day")
        #expect(series.timeZone == "America/Sao_Paulo")
        #expect(series.points.map(\.start) == [Self.at("2026-11-29T03:00:00Z"), Self.at("2026-11-30T03:00:00Z"), Self.at("2026-12-01T03:00:00Z")],
                "local midnights, zero-filled")
        #expect(series.points.map(\.offersReceived) == [1, 1, 2])
        #expect(series.points.map(\.offersAccepted) == [0, 1, 0] && series.points.map(\.offersDeclined) == [0, 0, 1] && series.points.map(\.offersExpired) == [0, 0, 1])
        #expect(series.points.map(\.acceptanceRate) == [nil, 1, 0])
        #expect(series.totals.offersReceived == 4 && series.totals.acceptanceRate == 0.3333)
        // Response times 30 s and 10 s: the merged histogram's p50 is the 10 s bin, p90 the 30 s one (within 5 %).
        let p50 = try #require(series.totals.responseP50Ms), p90 = try #require(series.totals.responseP90Ms)
        #expect(abs(p50 - 10_000) / 10_000 < 0.05 && abs(p90 - 30_000) / 30_000 < 0.05, "\(p50) \(p90)")
        let hourly = try await service.providerAnalytics(providerID: provider, from: "2026-12-01T04:00:00Z", to: "2026-12-01T06:00:00Z", granularity: "hour")
        #expect(hourly.points.map(\.offersReceived) == [2, 0])
        let weekly = try await service.providerAnalytics(providerID: provider, from: "2026-11-23", to: "2026-12-07", granularity: "week")
        #expect(weekly.points.map(\.offersReceived) == [1, 3], "weeks from Monday, local: Nov 23-29 holds o4, Nov 30-Dec 6 o1-o3")

        // Many events, few buckets: one write per bucket per batch.
        let burst = try (0..<40).map { try Self.offer(DispatchEvents.offerSent, "b\($0)", provider: provider, at: "2026-12-02T10:0\($0 % 10):00Z") }
        let written = try await service.apply(burst, now: now)
        #expect(written.counted == 40 && written.bucketWrites == 2, "the provider's hour and day: \(written)")
        #expect(written.otherWrites == 2, "the inbox records and the 40 offers' facts: one insert each")

        // Refusals name the parameter.
        for (from, to, granularity, parameter) in [("2026-12-02", "2026-12-01", "day", "from"), ("2025-01-01", "2026-12-01", "day", "to"),
                                                   ("2026-12-01", "2026-12-02", "month", "granularity"), ("yesterday", "2026-12-02", "day", "from")] {
            do {
                _ = try await service.providerAnalytics(providerID: provider, from: from, to: to, granularity: granularity)
                Issue.record("\(from)…\(to) \(granularity) accepted")
            } catch let error as DomainError {
                #expect(error.code == "invalid_parameter" && error.detail?.hasPrefix(parameter) == true, "\(error)")
            }
        }
        await mongo.shutdown()
    }

    @Test("the platform: requests, fill rate and time to match per category and area, time to arrival, cancellations by side, GMV and revenue from the payment events, providers online")
    func platformFigures() async throws {
        let mongo = try TestServers.mongo()
        let service = AnalyticsService(mongo: mongo)
        try await service.prepare()
        let now = Self.at("2026-12-02T12:00:00Z")
        let category = "plumbing"
        let requests = try (1...3).map { index in
            try Self.event(DispatchEvents.requestCreated, DispatchEvents.RequestCreated(requestId: "r\(index)", clientId: "c\(index)", categoryId: category,
                                                                                        lat: 38.72, lng: -9.14), at: "2026-12-01T10:00:0\(index)Z")
        }
        let assigned = try Self.event(DispatchEvents.jobAssigned, DispatchEvents.JobAssigned(jobId: "j1", requestId: "r1", clientId: "c1", providerId: "p1"),
                                      at: "2026-12-01T10:02:01Z")
        let arrived = try Self.event(DispatchEvents.jobStatusChanged,
                                     DispatchEvents.JobStatusChanged(jobId: "j1", requestId: "r1", clientId: "c1", providerId: "p1", from: .enRoute, to: .arrived,
                                                                     by: .provider, at: Self.at("2026-12-01T10:22:01Z")), at: "2026-12-01T10:22:01Z")
        let completed = try Self.event(DispatchEvents.jobStatusChanged,
                                       DispatchEvents.JobStatusChanged(jobId: "j1", requestId: "r1", clientId: "c1", providerId: "p1", from: .inProgress, to: .completed,
                                                                       by: .provider, at: Self.at("2026-12-01T11:00:00Z")), at: "2026-12-01T11:00:00Z")
        let captured = try Self.event(PaymentEvents.captured,
                                      PaymentEvents.PaymentChanged(paymentId: "pay1", requestId: "r1", jobId: "j1", clientId: "c1", providerId: "p1", categoryId: category, status: "captured",
                                                                   amount: Money("64.00", currency: "EUR")!, hold: Money("80.00", currency: "EUR")!,
                                                                   platformFee: Money("9.60", currency: "EUR")!, providerNet: Money("54.40", currency: "EUR")!,
                                                                   at: Self.at("2026-12-01T11:00:01Z")), at: "2026-12-01T11:00:01Z")
        let unfulfilled = try Self.event(DispatchEvents.requestUnfulfilled, DispatchEvents.RequestCancelled(requestId: "r2", clientId: "c2"), at: "2026-12-01T10:03:02Z")
        let cancelled = try Self.event(DispatchEvents.requestCancelled, DispatchEvents.RequestCancelled(requestId: "r3", clientId: "c3"), at: "2026-12-01T10:01:03Z")
        let online = try Self.event(DispatchEvents.locationUpdated, DispatchEvents.LocationUpdated(providerId: "p1", lat: 38.72, lng: -9.14, at: Self.at("2026-12-01T10:00:00Z")),
                                    at: "2026-12-01T10:00:00Z")
        let online2 = try Self.event(DispatchEvents.locationUpdated, DispatchEvents.LocationUpdated(providerId: "p2", lat: 38.72, lng: -9.14, at: Self.at("2026-12-01T10:30:00Z")),
                                     at: "2026-12-01T10:30:00Z")
        // Two batches, the assignment in the first with its request: facts the batch leaves serve its own later events.
        try await service.apply(requests + [assigned, online], now: now)
        try await service.apply([online2, arrived, completed, captured, unfulfilled, cancelled, online], now: now)

        let admin = Caller(userID: "admin", role: .admin, sessionID: "s")
        let day = try await service.overview(admin, from: "2026-12-01", to: "2026-12-02", granularity: "day", category: nil)
        let totals = day.totals
        #expect(totals.requests == 3 && totals.assigned == 1 && totals.unfulfilled == 1 && totals.completed == 1)
        #expect(totals.fillRate == 0.3333 && totals.unfulfilledRate == 0.3333)
        #expect(totals.cancellations.client == 1 && totals.cancellations.provider == 0 && totals.cancellations.admin == 0, "the request cancelled while searching")
        let match = try #require(totals.timeToMatchP50Ms), arrival = try #require(totals.timeToArrivalP50Ms)
        #expect(abs(match - 120_000) / 120_000 < 0.05 && abs(arrival - 1_200_000) / 1_200_000 < 0.05, "\(match) \(arrival)")
        #expect(totals.gmv == [Money("64.00", currency: "EUR")!] && totals.revenue == [Money("9.60", currency: "EUR")!])
        #expect(totals.onlineProviders == 2)
        let byCategory = try await service.overview(admin, from: "2026-12-01T10:00:00Z", to: "2026-12-01T12:00:00Z", granularity: "hour", category: category)
        #expect(byCategory.points.map(\.requests) == [3, 0] && byCategory.points.map(\.gmv) == [[], [Money("64.00", currency: "EUR")!]])
        let areas = try await service.areas(admin, from: "2026-12-01", to: "2026-12-02")
        #expect(areas.map(\.geohash) == [Geohash.encode(lat: 38.72, lng: -9.14)])
        #expect(areas.first?.requests == 3 && areas.first?.onlineProviders == 2 && areas.first?.demandPerProvider == 1.5)
        // Geohash against the published example (Wikipedia: 57.64911, 10.40744 → u4pruydqqvj).
        #expect(Geohash.encode(lat: 57.64911, lng: 10.40744, precision: 11) == "u4pruydqqvj")
        await mongo.shutdown()
    }

    @Test("through the real API and workers: a provider's offers, job and earnings, the platform's figures; providers see only their own; clients get 403")
    func throughTheWorkers() async throws {
        let h = try await D.harness(payments: PaymentTests.Options())
        for topic in h.topics.names(AnalyticsModule.topics) { try await h.platform.admin.ensureTopic(topic, partitions: 2) }
        let (group, running) = NotificationTests.run([
            OutboxRelay(mongo: h.platform.mongo, producer: h.platform.producer, topics: h.topics, configuration: .init(idleInterval: .milliseconds(20))),
            try h.worker("payments"), try h.worker("analytics"),
        ])
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        try await h.app.test(.router) { client in
            let (admin, category) = try await D.adminAndCategory(h, client)
            let provider = try await D.onlineProvider(client, index: index, category: category, offsetLat: 0.01)
            let customer = try await T.register(client, email: T.email())
            try await PaymentTests.addCard(client, customer.accessToken)
            let first = try #require(try await PaymentTests.request(client, customer.accessToken, category: category, budget: "80.00").1)
            let job = try await PaymentTests.assign(h, client, request: first, index: index, provider: provider)
            for step in ["en_route", "arrived", "in_progress"] { #expect(try await PaymentTests.move(client, job, to: step, token: provider.accessToken).0 == .ok) }
            #expect(try await PaymentTests.move(client, job, to: "completed", token: provider.accessToken, finalAmount: ("64.00", "EUR")).0 == .ok)
            let second = try #require(try await PaymentTests.request(client, customer.accessToken, category: category, budget: "30.00").1)
            try await h.dispatch.dispatch(try await D.createdEvent(h, requestID: second.id), index: index)
            let offers: [OfferView] = try await client.execute(uri: "/v1/offers", method: .get, headers: T.bearer(provider.accessToken)) {
                try JSONDecoder.iso.decode([OfferView].self, from: $0.body)
            }
            let pending = try #require(offers.first { $0.requestId == second.id })
            try await client.execute(uri: "/v1/offers/\(pending.id)/decline", method: .post, headers: T.bearer(provider.accessToken)) { #expect($0.status == .ok) }

            func mine(_ token: String) async throws -> AnalyticsService.ProviderSeries? {
                try await client.execute(uri: "/v1/providers/me/analytics?granularity=day", method: .get, headers: T.bearer(token)) { response in
                    response.status == .ok ? try JSONDecoder.iso.decode(AnalyticsService.ProviderSeries.self, from: response.body) : nil
                }
            }
            func overview() async throws -> AnalyticsService.PlatformSeries {
                try await client.execute(uri: "/v1/admin/analytics/overview?category=\(category)", method: .get, headers: T.bearer(admin)) {
                    #expect($0.status == .ok)
                    return try JSONDecoder.iso.decode(AnalyticsService.PlatformSeries.self, from: $0.body)
                }
            }
            #expect(try await eventually(timeout: .seconds(45)) {
                guard let totals = try await mine(provider.accessToken)?.totals else { return false }
                let platform = try await overview().totals
                return totals.jobsCompleted == 1 && totals.offersDeclined == 1 && !totals.earnings.isEmpty && platform.requests == 2 && !platform.gmv.isEmpty
            }, "the analytics worker folded the events in")
            let totals = try #require(try await mine(provider.accessToken)?.totals)
            #expect(totals.offersReceived == 2 && totals.offersAccepted == 1 && totals.acceptanceRate == 0.5 && totals.jobsAssigned == 1)
            #expect(totals.earnings.map(\.net) == [Money("54.40", currency: "EUR")!] && totals.earnings.map(\.fee) == [Money("9.60", currency: "EUR")!],
                    "the payment's own split")
            let other = try await D.onlineProvider(client, index: index, category: category, offsetLat: 0.02)
            #expect(try await mine(other.accessToken)?.totals.offersReceived == 0, "another provider sees only their own")
            try await client.execute(uri: "/v1/providers/me/analytics", method: .get, headers: T.bearer(customer.accessToken)) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/v1/admin/analytics/overview", method: .get, headers: T.bearer(provider.accessToken)) { #expect($0.status == .forbidden) }
            try await client.execute(uri: "/v1/admin/analytics/overview?from=2026-13-01", method: .get, headers: T.bearer(admin)) {
                #expect($0.status == .badRequest && String(buffer: $0.body).contains("from:"))
            }
            let overview = try await overview()
            #expect(overview.totals.requests == 2 && overview.totals.assigned == 1 && overview.totals.completed == 1 && overview.totals.fillRate == 0.5)
            #expect(overview.totals.gmv == [Money("64.00", currency: "EUR")!] && overview.totals.timeToMatchP50Ms != nil)
        }
        await group.triggerGracefulShutdown()
        _ = await running.result
        await DispatchTests.close(h)
    }
}
