import Foundation
import MarketplaceAnalytics
import MarketplaceContracts
import MarketplaceMongo
import MarketplacePlatform

/// The analytics fold: events per second into MongoDB through `AnalyticsService.apply` in
/// fetched-size batches, with the database writes per event, beside a one-upsert-per-event
/// baseline on the same server in the same run; then the p50/p99 of a 90-day daily series of one
/// provider with `providers` providers' 90 days loaded.
public struct AnalyticsBenchmark: Sendable {
    public let platform: Platform
    public var events: Int
    public var batch: Int
    public var providers: Int
    public var queries: Int

    public init(platform: Platform, events: Int, batch: Int, providers: Int, queries: Int) {
        self.platform = platform
        self.events = events
        self.batch = batch
        self.providers = providers
        self.queries = queries
    }

    /// Live traffic: requests and offers for `activeProviders` providers in the current hour.
    func traffic(count: Int, activeProviders: Int, now: Date) throws -> [EventEnvelope] {
        try (0..<count).map { index in
            let time = now.addingTimeInterval(-Double(count - index) / 1000)
            if index % 4 == 0 {
                return try EventEnvelope(source: "/bench", type: DispatchEvents.requestCreated, aggregateID: "r\(index)",
                                         payload: DispatchEvents.RequestCreated(requestId: "r\(index)-\(UUID().uuidString.prefix(6))", clientId: "c\(index % 500)",
                                                                                categoryId: "cat-\(index % 5)", lat: 38.70 + Double(index % 10) * 0.05, lng: -9.14),
                                         time: time)
            }
            return try EventEnvelope(source: "/bench", type: DispatchEvents.offerSent, aggregateID: "r\(index)",
                                     payload: DispatchEvents.OfferEvent(offerId: "o\(index)-\(UUID().uuidString.prefix(6))", requestId: "r\(index)",
                                                                        providerId: "p\(index % activeProviders)", wave: 1), time: time)
        }
    }

    public func run() async throws -> [String] {
        var lines: [String] = []
        let now = Date()
        let service = AnalyticsService(mongo: platform.mongo)
        try await service.prepare()

        // The fold, batch by batch, as the worker gets them.
        let stream = try traffic(count: events, activeProviders: 100, now: now)
        var total = AnalyticsService.BatchOutcome()
        var start = ContinuousClock.now
        for chunk in stride(from: 0, to: stream.count, by: batch).map({ Array(stream[$0..<min($0 + batch, stream.count)]) }) {
            total.add(try await service.apply(chunk, now: now))
        }
        let folded = Double(events) / (ContinuousClock.now - start).seconds

        // The baseline: one upsert per event on its bucket (no batching, no inbox, no facts).
        let baseline = platform.mongo.collection("bench_analytics_per_event", as: BSONDocument.self)
        start = .now
        for event in stream {
            let hour = Int(event.time.timeIntervalSince1970 / 3600)
            _ = try await baseline.updateOne(["_id": .string("\(event.type.rawValue)|\(hour)|\(event.aggregateID.hashValue % 100)")],
                                             ["$inc": ["count": .int64(1)]], upsert: true)
        }
        let perEvent = Double(events) / (ContinuousClock.now - start).seconds
        lines.append(String(format: "fold: %d events in batches of %d: %.0f events/s, %.1f events per write command (%d commands), %.1f bucket upserts per event (%d); one upsert per event: %.0f events/s (1 per write); %.2fx",
                            events, batch, folded, Double(events) / Double(max(total.writeCommands, 1)), total.writeCommands,
                            Double(total.bucketWrites) / Double(events), total.bucketWrites, perEvent, folded / perEvent))

        // 90 days of day buckets for `providers` providers, loaded directly.
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let today = calendar.startOfDay(for: now)
        var documents: [BSONDocument] = []
        for provider in 0..<providers {
            for day in 0..<90 {
                let start = today.addingTimeInterval(-Double(day) * 86_400)
                documents.append(["_id": .string("provider:load\(provider)|day|\(Int(start.timeIntervalSince1970))"), "scope": .string("provider:load\(provider)"),
                                  "granularity": "day", "start": .date(start),
                                  "counters": ["offers_received": .int64(Int64(5 + day % 7)), "offers_accepted": .int64(3), "jobs_completed": .int64(2)],
                                  "sums": ["earnings_gross_EUR": .int64(12_000), "earnings_fee_EUR": .int64(1_800), "earnings_net_EUR": .int64(10_200)],
                                  "histograms": ["response": ["40": .int64(2), "70": .int64(1)]]])
            }
        }
        start = .now
        for chunk in stride(from: 0, to: documents.count, by: 1_000) {
            try await platform.mongo.withTransaction { [documents] session in
                try session.collection("analytics_buckets", as: BSONDocument.self).insert(contentsOf: Array(documents[chunk..<min(chunk + 1_000, documents.count)]))
            }
        }
        lines.append(String(format: "loaded %d day buckets (%d providers × 90 days) in %.1f s", documents.count, providers, (ContinuousClock.now - start).seconds))
        var latencies: [Double] = []
        let from = Self.day(today.addingTimeInterval(-89 * 86_400)), to = Self.day(today.addingTimeInterval(86_400))
        for index in 0..<queries {
            let began = ContinuousClock.now
            let series = try await service.providerAnalytics(providerID: "load\(index % providers)", from: from, to: to, granularity: "day")
            latencies.append((ContinuousClock.now - began).seconds * 1000)
            guard series.points.count == 90, series.totals.jobsCompleted == 180 else { throw BenchError("series of \(series.points.count) points, \(series.totals.jobsCompleted) jobs") }
        }
        latencies.sort()
        lines.append(String(format: "90-day daily series of one provider (%d queries): p50 %.1f ms, p99 %.1f ms (goal p99 < 50 ms)",
                            queries, latencies[latencies.count / 2], latencies[min(latencies.count - 1, latencies.count * 99 / 100)]))
        return lines
    }

    static func day(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd"
        return formatter.string(from: date)
    }
}
