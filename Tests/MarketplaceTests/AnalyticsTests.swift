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
        #expect(written.otherWrites == 80, "40 inbox records and 40 offers' facts")
        #expect(written.writeCommands == 3, "one insert of the inbox records, one of the offers' facts, one bulk upsert of the buckets: \(written)")

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
            let figures = try await overview()
            #expect(figures.totals.requests == 2 && figures.totals.assigned == 1 && figures.totals.completed == 1 && figures.totals.fillRate == 0.5)
            #expect(figures.totals.gmv == [Money("64.00", currency: "EUR")!] && figures.totals.timeToMatchP50Ms != nil)

            // Rebuild from the topics while the live worker runs: the new generation equals what the
            // live worker folded, the dashboards read it after the switch, and the figures are the same.
            let service = AnalyticsService(mongo: h.platform.mongo)
            let incremental = try await service.allBuckets(.first)
            let rebuild = AnalyticsRebuild(service: service, kafka: h.platform.configuration.kafkaClient, topics: h.topics,
                                           options: .init(idle: .seconds(2)))
            let report = try await rebuild.run()
            #expect(report.generation == AnalyticsGeneration(1))
            #expect(try await service.currentGeneration() == AnalyticsGeneration(1), "switched over")
            #expect(report.outcome.counted > 0 && report.outcome.late == 0 && report.notCloudEvents == 0, "\(report)")
            let rebuilt = try await service.allBuckets(AnalyticsGeneration(1))
            #expect(Set(rebuilt.keys) == Set(incremental.keys), "the same buckets")
            for (id, bucket) in incremental {
                #expect(rebuilt[id]?.delta == bucket.delta, "bucket \(id): rebuilt \(String(describing: rebuilt[id]?.delta)) vs live \(bucket.delta)")
            }
            // (`to` is now, so the totals' start moves with it.)
            var after = try await overview().totals, mineAfter = try #require(try await mine(provider.accessToken)?.totals)
            after.start = figures.totals.start
            mineAfter.start = totals.start
            #expect(after == figures.totals, "the dashboards read the rebuilt generation: the same figures")
            #expect(mineAfter == totals)
        }
        await group.triggerGracefulShutdown()
        _ = await running.result
        await DispatchTests.close(h)
    }

    @Test("folding order does not matter: a job folded before its request (within a batch), completions for the same client folded out of order")
    func foldingOrder() async throws {
        let mongo = try TestServers.mongo()
        let service = AnalyticsService(mongo: mongo)
        let now = Self.at("2026-12-02T12:00:00Z")
        let (p, c) = ("p-\(UUID().uuidString.prefix(8))", "c-\(UUID().uuidString.prefix(8))")
        func completed(_ job: String, at time: String) throws -> EventEnvelope {
            try Self.event(DispatchEvents.jobStatusChanged, DispatchEvents.JobStatusChanged(jobId: job, requestId: "r-\(job)", clientId: c, providerId: p,
                                                                                           from: .inProgress, to: .completed, by: .provider, at: Self.at(time)), at: time)
        }
        let created = try Self.event(DispatchEvents.requestCreated, DispatchEvents.RequestCreated(requestId: "r-\(p)", clientId: c, categoryId: "gardening",
                                                                                                  lat: 41.15, lng: -8.61), at: "2026-12-01T09:00:00Z")
        let assigned = try Self.event(DispatchEvents.jobAssigned, DispatchEvents.JobAssigned(jobId: "j-\(p)", requestId: "r-\(p)", clientId: c, providerId: p),
                                      at: "2026-12-01T09:03:00Z")
        let first = try completed("a-\(p)", at: "2026-11-29T10:00:00Z"), second = try completed("b-\(p)", at: "2026-11-30T10:00:00Z"),
            third = try completed("c-\(p)", at: "2026-12-01T10:00:00Z")
        let (inOrder, shuffled) = (AnalyticsGeneration(Int.random(in: 1_000...999_999)), AnalyticsGeneration(Int.random(in: 1_000...999_999)))
        try await service.apply([created, assigned, first, second, third], now: now, generation: inOrder)
        try await service.apply([assigned, created], now: now, generation: shuffled)
        for event in [third, first, second] { try await service.apply([event], now: now, generation: shuffled) }
        let (a, b) = (try await service.allBuckets(inOrder), try await service.allBuckets(shuffled))
        #expect(Set(a.keys) == Set(b.keys))
        for (id, bucket) in a { #expect(b[id]?.delta == bucket.delta, "\(id)") }
        let days = a.values.filter { $0.scope == "provider:\(p)" && $0.granularity == .day }.sorted { $0.start < $1.start }
        #expect(days.map { $0.counters?["clients_repeat"] ?? 0 } == [0, 1, 1], "every completion for the client but the earliest is a repeat")
        #expect(a["category:gardening|day|2026-12-01T00:00:00Z"] != nil || a.values.contains { $0.scope == "category:gardening" && $0.counters?["assigned"] == 1 },
                "the job's category came from its request, folded after it in the batch")
        #expect(b.values.contains { $0.scope == "category:gardening" && $0.counters?["assigned"] == 1 && $0.granularity == .day })
        for generation in [inOrder, shuffled] {
            for name in service.collections(of: generation) { try await mongo.collection(name, as: BSONDocument.self).drop() }
        }
        await mongo.shutdown()
    }

    /// The web dashboard in Debian's headless Chromium: a provider (in São Paulo's time zone) and
    /// an admin sign in through the page; its bars, points, cards and area grid show the seeded
    /// figures, and it reloads new ones. Screenshots are kept in `artifacts/`.
    @Test("the dashboard page renders the seeded figures in Chromium and reloads new ones")
    func dashboardInChromium() async throws {
        let h = try await D.harness()
        let service = AnalyticsService(mongo: h.platform.mongo)
        let now = Self.at("2026-12-02T12:00:00Z")
        let artifacts = DeploymentFilesTests.root.appendingPathComponent("artifacts")
        try FileManager.default.createDirectory(at: artifacts, withIntermediateDirectories: true)
        try await h.app.test(.live) { client in
            let base = "http://127.0.0.1:\(client.port!)"
            let provider = try await T.register(client, email: T.email(), role: "provider")
            let adminEmail = T.email()
            _ = try await h.identity.createAdmin(email: adminEmail, password: "admin password 1!", name: "Root")
            let p = provider.user.id, category = "plumbing-\(UUID().uuidString.prefix(6).lowercased())"
            func payment(_ id: String, job: String, gross: String, fee: String, net: String, at time: String) throws -> EventEnvelope {
                try Self.event(PaymentEvents.captured, PaymentEvents.PaymentChanged(
                    paymentId: id, requestId: "r-\(job)", jobId: job, clientId: "c1", providerId: p, categoryId: category, status: "captured",
                    amount: Money(gross, currency: "EUR")!, hold: Money(gross, currency: "EUR")!, platformFee: Money(fee, currency: "EUR")!,
                    providerNet: Money(net, currency: "EUR")!, at: Self.at(time)), at: time)
            }
            func job(_ id: String, _ to: JobStatus, at time: String) throws -> EventEnvelope {
                try Self.event(DispatchEvents.jobStatusChanged, DispatchEvents.JobStatusChanged(jobId: id, requestId: "r-\(id)", clientId: "c-\(id)", providerId: p,
                                                                                               from: .inProgress, to: to, by: .provider, at: Self.at(time)), at: time)
            }
            func review(_ job: String, _ rating: Int, at time: String) throws -> EventEnvelope {
                try Self.event(DispatchEvents.reviewPublished, DispatchEvents.ReviewPublished(jobId: job, authorId: "c-\(job)", authorRole: .client, subjectId: p,
                                                                                             rating: rating), at: time)
            }
            func request(_ id: String, at time: String) throws -> EventEnvelope {
                try Self.event(DispatchEvents.requestCreated, DispatchEvents.RequestCreated(requestId: id, clientId: "c-\(id)", categoryId: category,
                                                                                            lat: 38.72, lng: -9.14), at: time)
            }
            func assigned(_ job: String, request: String, at time: String) throws -> EventEnvelope {
                try Self.event(DispatchEvents.jobAssigned, DispatchEvents.JobAssigned(jobId: job, requestId: request, clientId: "c-\(request)", providerId: p), at: time)
            }
            // São Paulo is UTC-3: the provider's days are Nov 28, 29 and 30 there; the last job
            // (01:30Z on Dec 1) is still Nov 30 for them.
            let profile = try Self.event(IdentityEvents.providerProfileUpdated, IdentityEvents.ProviderProfileUpdated(
                providerId: p, categories: [category], serviceRadiusKm: 10, currency: "EUR", hourlyRate: "50", timeZone: "America/Sao_Paulo"), at: "2026-11-27T00:00:00Z")
            try await service.apply([profile,
                                     try request("r1", at: "2026-11-28T14:59:00Z"), try request("r2", at: "2026-11-29T13:59:00Z"), try request("r3", at: "2026-12-01T01:00:00Z"),
                                     try Self.offer(DispatchEvents.offerSent, "o1-\(p)", provider: p, at: "2026-11-28T15:00:00Z"),
                                     try Self.offer(DispatchEvents.offerAccepted, "o1-\(p)", provider: p, at: "2026-11-28T15:00:20Z"),
                                     try assigned("j1", request: "r1", at: "2026-11-28T15:01:00Z"),
                                     try job("j1", .completed, at: "2026-11-28T16:00:00Z"),
                                     try payment("pay1", job: "j1", gross: "100.00", fee: "20.00", net: "80.00", at: "2026-11-28T16:05:00Z"),
                                     try review("j1", 5, at: "2026-11-28T16:10:00Z"),
                                     try Self.offer(DispatchEvents.offerSent, "o2-\(p)", provider: p, at: "2026-11-29T14:00:00Z"),
                                     try Self.offer(DispatchEvents.offerDeclined, "o2-\(p)", provider: p, at: "2026-11-29T14:00:30Z"),
                                     try Self.offer(DispatchEvents.offerSent, "o3-\(p)", provider: p, at: "2026-12-01T01:00:10Z"),
                                     try Self.offer(DispatchEvents.offerAccepted, "o3-\(p)", provider: p, at: "2026-12-01T01:00:20Z"),
                                     try assigned("j2", request: "r3", at: "2026-12-01T01:01:00Z"),
                                     try job("j2", .completed, at: "2026-12-01T01:30:00Z"),
                                     try payment("pay2", job: "j2", gross: "50.00", fee: "10.00", net: "40.00", at: "2026-12-01T01:31:00Z"),
                                     try review("j2", 4, at: "2026-12-01T01:40:00Z"),
                                     try Self.event(DispatchEvents.locationUpdated, DispatchEvents.LocationUpdated(providerId: p, lat: 38.72, lng: -9.14, at: Self.at("2026-11-28T14:00:00Z")),
                                                    at: "2026-11-28T14:00:00Z")], now: now)

            struct Seen: Decodable {
                struct Chart: Decodable { var bars: [Mark]; var points: [Mark] }
                struct Mark: Decodable, Equatable { var start: String; var value: Double }
                struct Area: Decodable { var geohash: String; var requests: Int; var online: Int; var fill: String }
                var view: String
                var charts: [String: Chart]
                var cards: [String: String]
                var areas: [Area]
                var error: String
                var consoleErrors: [String]
                func bars(_ chart: String) -> [Double] { charts[chart]?.bars.map(\.value) ?? [] }
                func points(_ chart: String) -> [Mark] { charts[chart]?.points ?? [] }
            }
            let script = DeploymentFilesTests.root.appendingPathComponent("Tests/Python/dashboard_check.py").path
            func seen(_ path: String) throws -> Seen { try JSONDecoder().decode(Seen.self, from: Data(contentsOf: URL(fileURLWithPath: path))) }
            let out = FileManager.default.temporaryDirectory.appendingPathComponent(TestServers.unique("dashboard")).path
            let go = out + ".go"
            defer { for path in [out, out + ".2", go] { try? FileManager.default.removeItem(atPath: path) } }

            // The provider, with a reload after more is seeded.
            let browser = Task {
                try await ChildProcess.capture([DeploymentFilesTests.root.appendingPathComponent(".stack/venv/bin/python").path, script, base, provider.user.email,
                                                "correct horse battery", "from=2026-11-28&to=2026-12-01&granularity=day&refresh=2",
                                                artifacts.appendingPathComponent("dashboard-provider.png").path, out, go])
            }
            guard try await eventually(timeout: .seconds(60), { (try? seen(out)) != nil }) else {
                let run = try await browser.value
                Issue.record("the page did not load (\(run.status)): \(run.output)")
                return
            }
            let first = try seen(out)
            #expect(first.view == "provider" && first.error.isEmpty && first.consoleErrors.isEmpty, "\(first.error) \(first.consoleErrors)")
            #expect(first.charts["chart-jobs"]?.bars.map(\.start) == ["2026-11-28T03:00:00Z", "2026-11-29T03:00:00Z", "2026-11-30T03:00:00Z"],
                    "one bar per São Paulo day")
            #expect(first.bars("chart-jobs") == [1, 0, 1], "the job at 01:30Z on Dec 1 is Nov 30 in São Paulo")
            #expect(first.bars("chart-earnings") == [80, 0, 40])
            #expect(first.points("chart-acceptance").map(\.value) == [1, 0, 1])
            #expect(first.points("chart-rating") == [.init(start: "2026-11-28T03:00:00Z", value: 5), .init(start: "2026-11-30T03:00:00Z", value: 4)],
                    "a day without reviews has no point")
            #expect(first.cards["jobsCompleted"] == "2" && first.cards["earningsNet"] == "120.00 EUR" && first.cards["rating"] == "4.5 (2)")

            try await service.apply([try job("j3", .completed, at: "2026-11-29T18:00:00Z")], now: now)
            _ = FileManager.default.createFile(atPath: go, contents: nil)
            let run = try await browser.value
            #expect(run.status == 0, "\(run.output)")
            let reloaded = try seen(out + ".2")
            #expect(reloaded.bars("chart-jobs") == [1, 1, 1], "the page reloaded the new completion")

            // The admin: the platform's charts and the supply and demand grid.
            let admin = try await ChildProcess.capture([DeploymentFilesTests.root.appendingPathComponent(".stack/venv/bin/python").path, script, base, adminEmail,
                                                        "admin password 1!", "from=2026-11-28&to=2026-12-02&granularity=day&category=\(category)",
                                                        artifacts.appendingPathComponent("dashboard-admin.png").path, out])
            #expect(admin.status == 0, "\(admin.output)")
            let platform = try seen(out)
            #expect(platform.view == "admin" && platform.error.isEmpty && platform.consoleErrors.isEmpty, "\(platform.error) \(platform.consoleErrors)")
            #expect(platform.bars("chart-requests") == [1, 1, 0, 1])
            #expect(platform.points("chart-fill").map(\.value) == [1, 0, 1], "no point on the day without requests")
            #expect(platform.bars("chart-gmv") == [100, 0, 0, 50])
            #expect(platform.cards["requests"] == "3" && platform.cards["gmv"] == "150.00 EUR")
            let area = try #require(platform.areas.first { $0.geohash == Geohash.encode(lat: 38.72, lng: -9.14) }, "\(platform.areas)")
            #expect(area.requests == 3 && area.online == 1 && area.fill == "0.6667")
        }
        await DispatchTests.close(h)
    }
}
