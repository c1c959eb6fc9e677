import Foundation
import MarketplaceContracts

/// Series read back from the buckets: zero-filled from `from` to `to`, by hour, day or week
/// (weeks from the day buckets, Monday first); percentiles from the merged histograms.
extension AnalyticsService {
    public struct Range: Sendable, Equatable {
        public var from: Date
        public var to: Date
        public var granularity: Granularity

        public static let maxDays = 366.0

        /// `from`/`to` in ISO 8601 (a date means its midnight in `timeZone`); 30 days up to now
        /// when left out. Refusals name the parameter.
        public static func parse(from: String?, to: String?, granularity: String?, timeZone: TimeZone, now: Date = Date()) throws -> Range {
            func date(_ text: String, _ name: String) throws -> Date {
                if let time = try? Date(text, strategy: .iso8601) { return time }
                let day = DateFormatter()
                day.locale = Locale(identifier: "en_US_POSIX")
                day.timeZone = timeZone
                day.dateFormat = "yyyy-MM-dd"
                guard text.count == 10, let midnight = day.date(from: text) else {
                    throw DomainError.invalidParameter(name, "an ISO 8601 date (2026-12-01) or time (2026-12-01T10:00:00Z)")
                }
                return midnight
            }
            let end = try to.map { try date($0, "to") } ?? now
            let start = try from.map { try date($0, "from") } ?? end.addingTimeInterval(-30 * 86_400)
            guard start < end else { throw DomainError.invalidParameter("from", "before to") }
            guard end.timeIntervalSince(start) <= maxDays * 86_400 else { throw DomainError.invalidParameter("to", "at most 366 days after from") }
            var chosen = Granularity.day
            if let granularity {
                guard let value = Granularity(rawValue: granularity) else { throw DomainError.invalidParameter("granularity", "hour, day or week") }
                chosen = value
            }
            return Range(from: start, to: end, granularity: chosen)
        }
    }

    /// Counters, sums, histograms and sets of some buckets, merged (the same merge as a batch's
    /// deltas: `BucketDelta.merge`).
    struct Folded {
        var delta = BucketDelta()

        init(_ buckets: [MetricBucket] = []) {
            for bucket in buckets { merge(bucket.delta) }
        }

        mutating func merge(_ other: BucketDelta) { delta.merge(other) }

        func counter(_ name: String) -> Int { delta.counters[name] ?? 0 }
        func quantile(_ name: String, _ q: Double) -> Double? { delta.histograms[name]?.quantile(q).map { ($0 * 10).rounded() / 10 } }
        func distinct(_ name: String) -> Int { delta.sets[name]?.count ?? 0 }
        /// Sums named `<prefix>_<CUR>` as money, one per currency.
        func money(_ prefix: String) -> [Money] {
            delta.sums.compactMap { name, value -> Money? in
                guard name.hasPrefix(prefix + "_") else { return nil }
                return Money(minorUnits: value, currency: String(name.dropFirst(prefix.count + 1)))
            }.sorted { $0.currency < $1.currency }
        }
        static func ratio(_ part: Int, _ whole: Int) -> Double? { whole == 0 ? nil : (Double(part) / Double(whole) * 10_000).rounded() / 10_000 }
    }

    /// The buckets of `scope` over `range`, one group per point (zero-filled).
    func points(_ store: Store, scope: MetricScope, range: Range, timeZone: TimeZone) async throws -> [(start: Date, folded: Folded)] {
        let first = BucketKey.start(of: range.granularity, containing: range.from, in: timeZone)
        let stored = try await store.buckets.range(scope: scope.key, granularity: range.granularity.stored, from: first, to: range.to)
        let starts = BucketKey.starts(of: range.granularity, from: range.from, to: range.to, in: timeZone)
        let grouped = Dictionary(grouping: stored) { BucketKey.start(of: range.granularity, containing: $0.start, in: timeZone) }
        return starts.map { ($0, Folded(grouped[$0] ?? [])) }
    }

    // MARK: providers

    public struct CancelledBy: Codable, Sendable, Equatable {
        public var client: Int
        public var provider: Int
        public var admin: Int

        init(_ folded: Folded, prefix: String) {
            client = folded.counter("\(prefix)_client")
            provider = folded.counter("\(prefix)_provider")
            admin = folded.counter("\(prefix)_admin")
        }
    }

    public struct Earnings: Codable, Sendable, Equatable {
        public var currency: String
        public var gross: Money
        public var fee: Money
        public var net: Money
    }

    public struct ProviderPoint: Codable, Sendable, Equatable {
        public var start: Date
        public var offersReceived: Int
        public var offersAccepted: Int
        public var offersDeclined: Int
        public var offersExpired: Int
        /// Accepted of those answered or expired; nil without offers.
        public var acceptanceRate: Double?
        public var responseP50Ms: Double?
        public var responseP90Ms: Double?
        public var jobsAssigned: Int
        public var jobsCompleted: Int
        public var jobsCancelled: CancelledBy
        /// Completed jobs for a client the provider had completed one for before.
        public var repeatClientJobs: Int
        public var ratingCount: Int
        public var ratingAverage: Double?
        public var earnings: [Earnings]

        init(start: Date, _ folded: Folded) {
            self.start = start
            offersReceived = folded.counter("offers_received")
            offersAccepted = folded.counter("offers_accepted")
            offersDeclined = folded.counter("offers_declined")
            offersExpired = folded.counter("offers_expired")
            acceptanceRate = Folded.ratio(offersAccepted, offersAccepted + offersDeclined + offersExpired)
            responseP50Ms = folded.quantile("response", 0.5)
            responseP90Ms = folded.quantile("response", 0.9)
            jobsAssigned = folded.counter("jobs_assigned")
            jobsCompleted = folded.counter("jobs_completed")
            jobsCancelled = CancelledBy(folded, prefix: "jobs_cancelled")
            repeatClientJobs = folded.counter("clients_repeat")
            ratingCount = folded.counter("rating_count")
            ratingAverage = ratingCount == 0 ? nil : (Double(folded.counter("rating_sum")) / Double(ratingCount) * 100).rounded() / 100
            let gross = folded.money("earnings_gross"), fee = folded.money("earnings_fee"), net = folded.money("earnings_net")
            earnings = gross.map { gross in
                Earnings(currency: gross.currency, gross: gross, fee: fee.first { $0.currency == gross.currency } ?? .zero(gross.currency),
                         net: net.first { $0.currency == gross.currency } ?? .zero(gross.currency))
            }
        }
    }

    public struct ProviderSeries: Codable, Sendable, Equatable {
        public var providerId: String
        public var timeZone: String
        public var granularity: Granularity
        public var from: Date
        public var to: Date
        public var points: [ProviderPoint]
        public var totals: ProviderPoint
    }

    /// A provider's own analytics (`GET /v1/providers/me/analytics`), in their time zone.
    public func providerAnalytics(_ caller: Caller, from: String?, to: String?, granularity: String?) async throws -> ProviderSeries {
        guard caller.role == .provider else { throw DomainError(kind: .forbidden, code: "forbidden", title: "Only providers have provider analytics") }
        return try await providerAnalytics(providerID: caller.userID, from: from, to: to, granularity: granularity)
    }

    public func providerAnalytics(providerID: String, from: String?, to: String?, granularity: String?) async throws -> ProviderSeries {
        let store = try await currentStore()
        let zoneName = try await store.facts.providers([providerID])[providerID]?.timeZone ?? "UTC"
        let zone = TimeZone(identifier: zoneName) ?? TimeZone(identifier: "UTC")!
        let range = try Range.parse(from: from, to: to, granularity: granularity, timeZone: zone)
        let points = try await self.points(store, scope: .provider(providerID), range: range, timeZone: zone)
        var all = Folded()
        for point in points { all.merge(point.folded.delta) }
        return ProviderSeries(providerId: providerID, timeZone: zoneName, granularity: range.granularity, from: range.from, to: range.to,
                              points: points.map { ProviderPoint(start: $0.start, $0.folded) }, totals: ProviderPoint(start: range.from, all))
    }

    // MARK: the platform

    public struct PlatformPoint: Codable, Sendable, Equatable {
        public var start: Date
        public var requests: Int
        public var assigned: Int
        public var unfulfilled: Int
        public var completed: Int
        /// Assigned of requested; unfulfilled of requested.
        public var fillRate: Double?
        public var unfulfilledRate: Double?
        public var timeToMatchP50Ms: Double?
        public var timeToMatchP90Ms: Double?
        public var timeToArrivalP50Ms: Double?
        public var timeToArrivalP90Ms: Double?
        public var cancellations: CancelledBy
        public var gmv: [Money]
        public var revenue: [Money]
        /// Distinct providers online (reporting a position or going online) in the period.
        public var onlineProviders: Int

        init(start: Date, _ folded: Folded) {
            self.start = start
            requests = folded.counter("requests")
            assigned = folded.counter("assigned")
            unfulfilled = folded.counter("unfulfilled")
            completed = folded.counter("completed")
            fillRate = Folded.ratio(assigned, requests)
            unfulfilledRate = Folded.ratio(unfulfilled, requests)
            timeToMatchP50Ms = folded.quantile("match", 0.5)
            timeToMatchP90Ms = folded.quantile("match", 0.9)
            timeToArrivalP50Ms = folded.quantile("arrival", 0.5)
            timeToArrivalP90Ms = folded.quantile("arrival", 0.9)
            cancellations = CancelledBy(folded, prefix: "cancelled")
            gmv = folded.money("gmv")
            revenue = folded.money("revenue")
            onlineProviders = folded.distinct("online")
        }
    }

    public struct PlatformSeries: Codable, Sendable, Equatable {
        public var category: String?
        public var granularity: Granularity
        public var from: Date
        public var to: Date
        public var points: [PlatformPoint]
        public var totals: PlatformPoint
    }

    /// The platform's (or one category's) series, in UTC (`GET /v1/admin/analytics/overview`).
    public func overview(_ caller: Caller, from: String?, to: String?, granularity: String?, category: String?) async throws -> PlatformSeries {
        guard caller.role == .admin else { throw DomainError.forbidden }
        if let category, category.range(of: "^[a-z0-9][a-z0-9-]{0,63}$", options: .regularExpression) == nil {
            throw DomainError.invalidParameter("category", "a category slug")
        }
        let utc = TimeZone(identifier: "UTC")!
        let range = try Range.parse(from: from, to: to, granularity: granularity, timeZone: utc)
        let points = try await self.points(try await currentStore(), scope: category.map(MetricScope.category) ?? .platform, range: range, timeZone: utc)
        var all = Folded()
        for point in points { all.merge(point.folded.delta) }
        return PlatformSeries(category: category, granularity: range.granularity, from: range.from, to: range.to,
                              points: points.map { PlatformPoint(start: $0.start, $0.folded) }, totals: PlatformPoint(start: range.from, all))
    }

    public struct AreaFigures: Codable, Sendable, Equatable {
        public var geohash: String
        public var requests: Int
        public var assigned: Int
        public var onlineProviders: Int
        public var fillRate: Double?
        /// Requests per online provider: high where the platform lacks providers.
        public var demandPerProvider: Double?
    }

    /// Supply against demand per area over a range (`GET /v1/admin/analytics/areas`), busiest first.
    public func areas(_ caller: Caller, from: String?, to: String?) async throws -> [AreaFigures] {
        guard caller.role == .admin else { throw DomainError.forbidden }
        let utc = TimeZone(identifier: "UTC")!
        let range = try Range.parse(from: from, to: to, granularity: "hour", timeZone: utc)
        let stored = try await currentStore().buckets.areas(granularity: .hour, from: BucketKey.start(of: .hour, containing: range.from, in: utc), to: range.to)
        return Dictionary(grouping: stored, by: \.scope).map { scope, buckets in
            let folded = Folded(buckets)
            let requests = folded.counter("requests"), assigned = folded.counter("assigned"), online = folded.distinct("online")
            return AreaFigures(geohash: String(scope.dropFirst("area:".count)), requests: requests, assigned: assigned, onlineProviders: online,
                               fillRate: Folded.ratio(assigned, requests),
                               demandPerProvider: online == 0 ? nil : (Double(requests) / Double(online) * 100).rounded() / 100)
        }.sorted { ($0.requests, $0.geohash) > ($1.requests, $1.geohash) }
    }
}
