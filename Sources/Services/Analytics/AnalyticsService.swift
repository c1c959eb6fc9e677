import Foundation
import Logging
import MarketplaceContracts
import MarketplaceMongo
import Metrics

/// Analytics: domain events folded into hour and day buckets at their event time (a provider's
/// days in their own time zone), each event once, one write per bucket per batch
/// (`apply(_:)`); series, zero-filled, read back for providers and admins
/// (`AnalyticsService+Queries.swift`).
public final class AnalyticsService: Sendable {
    public struct Settings: Sendable {
        /// Events older than this (by their own time) are not counted: their buckets are closed.
        public var grace: TimeInterval
        public init(grace: TimeInterval = 7 * 86_400) { self.grace = grace }
    }

    public let mongo: MongoClient
    public let settings: Settings
    let buckets: BucketRepository
    let facts: FactRepository
    let logger: Logger
    static let inboxCollection = "inbox_analytics"

    public init(mongo: MongoClient, settings: Settings = .init(), logger: Logger = Logger(label: "analytics")) {
        self.mongo = mongo
        self.settings = settings
        self.logger = logger
        buckets = BucketRepository(mongo: mongo)
        facts = FactRepository(mongo: mongo)
    }

    public func prepare() async throws { try await buckets.prepare() }

    struct InboxEntry: Codable, Sendable { var _id: String; var type: String; var processedAt: Date }

    /// What one batch did.
    public struct BatchOutcome: Sendable, Equatable {
        public var counted = 0
        public var duplicates = 0
        public var late = 0
        /// Database writes: one per bucket touched, plus the inbox records (one insert) and facts.
        public var bucketWrites = 0
        public var otherWrites = 0
    }

    /// Folds a fetched batch in, in one transaction: the inbox records (one insert), the facts the
    /// events leave, and one upsert per bucket. Redelivered events (already in the inbox) and
    /// repeats within the batch are skipped.
    @discardableResult
    public func apply(_ batch: [EventEnvelope], now: Date = Date()) async throws -> BatchOutcome {
        var outcome = BatchOutcome()
        var seen = Set<String>()
        let unique = batch.filter { seen.insert($0.id).inserted }
        let processed = Set(try await mongo.collection(Self.inboxCollection, as: InboxEntry.self)
            .find(["_id": ["$in": .array(unique.map { .string($0.id) })]]).map(\._id))
        let events = unique.filter { !processed.contains($0.id) }
        outcome.duplicates = batch.count - events.count
        guard !events.isEmpty else { return outcome }

        // Facts the events need, read once for the batch; those the batch itself leaves are
        // seen by its later events.
        let lookups = try events.flatMap(AnalyticsProjector.lookups(for:))
        var requests = try await facts.requests(lookups.compactMap { if case .request(let id) = $0 { id } else { nil } })
        var offers = try await facts.offers(lookups.compactMap { if case .offer(let id) = $0 { id } else { nil } })
        var jobs = try await facts.jobs(lookups.compactMap { if case .job(let id) = $0 { id } else { nil } })
        var pairs = try await facts.pairs(lookups.compactMap { if case .pair(let p, let c) = $0 { FactRepository.pairID(provider: p, client: c) } else { nil } })

        var contributions: [AnalyticsProjector.Contribution] = []
        var changes: [FactChange] = []
        var zones: [String: String?] = [:]
        for event in events {
            var context = EventFacts()
            // Facts come from events of the same partition (an offer's, a job's) or, for a job's
            // request, from an event Dispatch published well before; one that is missing leaves
            // the event counted without its category and area.
            for lookup in try AnalyticsProjector.lookups(for: event) {
                switch lookup {
                case .request(let id): context.request = requests[id]
                case .offer(let id): context.offer = offers[id]
                case .job(let id): context.job = jobs[id]
                case .pair(let provider, let client): context.earlierCompletedWithClient = pairs[FactRepository.pairID(provider: provider, client: client)] ?? 0
                }
            }
            let (made, left) = try AnalyticsProjector.project(event, facts: context)
            for change in left {
                switch change {
                case .request(let fact): requests[fact._id] = fact
                case .offer(let fact): offers[fact._id] = fact
                case .job(let fact): jobs[fact._id] = fact
                case .provider(let fact): zones[fact._id] = fact.timeZone
                case .completedPair(let provider, let client): pairs[FactRepository.pairID(provider: provider, client: client), default: 0] += 1
                }
            }
            changes += left
            if event.time < now.addingTimeInterval(-settings.grace) {
                outcome.late += 1  // its buckets are closed: remembered, not counted
                continue
            }
            contributions += made
            outcome.counted += 1
        }

        // Providers' days are in their time zones (UTC when unknown).
        let providerIDs = Set(contributions.compactMap { if case .provider(let id) = $0.scope { id } else { nil } }).filter { zones[$0] == nil }
        for (id, fact) in try await facts.providers(Array(providerIDs)) { zones[id] = fact.timeZone }
        let utc = TimeZone(identifier: "UTC")!
        var deltas: [BucketKey: BucketDelta] = [:]
        for contribution in contributions {
            var zone = utc
            if case .provider(let id) = contribution.scope, let name = zones[id] ?? nil, let found = TimeZone(identifier: name) { zone = found }
            for key in BucketKey.keys(for: contribution.scope, at: contribution.time, timeZone: zone) {
                deltas[key, default: BucketDelta()].merge(contribution.delta)
            }
        }
        let inbox = events.map { InboxEntry(_id: $0.id, type: $0.type.rawValue, processedAt: now) }
        let (merged, facts) = (deltas.filter { !$0.value.isEmpty }, changes)
        let existing = try await self.facts.existing(changes)
        let factWrites = try await mongo.withTransaction { session in
            try session.collection(Self.inboxCollection, as: InboxEntry.self).insert(contentsOf: inbox)
            let writes = try FactRepository.apply(facts, existing: existing, in: session)
            for (key, delta) in merged { try BucketRepository.upsert(key, delta, in: session) }
            return writes
        }
        outcome.bucketWrites = merged.count
        outcome.otherWrites = 1 + factWrites
        Counter(label: "analytics_events_total", dimensions: [("outcome", "counted")]).increment(by: outcome.counted)
        if outcome.late > 0 { Counter(label: "analytics_events_total", dimensions: [("outcome", "late")]).increment(by: outcome.late) }
        if outcome.duplicates > 0 { Counter(label: "analytics_events_total", dimensions: [("outcome", "duplicate")]).increment(by: outcome.duplicates) }
        Counter(label: "analytics_bucket_writes_total").increment(by: outcome.bucketWrites)
        Self.export(contributions)
        return outcome
    }

    /// Low-cardinality live figures for operators' dashboards (Prometheus; the buckets stay the
    /// record): the platform's requests, assignments, time to match and GMV per currency.
    static func export(_ contributions: [AnalyticsProjector.Contribution]) {
        for contribution in contributions where contribution.scope == .platform {
            let delta = contribution.delta
            if let requests = delta.counters["requests"] { Counter(label: "analytics_requests_total").increment(by: requests) }
            if let assigned = delta.counters["assigned"] { Counter(label: "analytics_assigned_total").increment(by: assigned) }
            if let unfulfilled = delta.counters["unfulfilled"] { Counter(label: "analytics_unfulfilled_total").increment(by: unfulfilled) }
            for (bin, count) in delta.histograms["match"]?.bins ?? [:] {
                let seconds = LatencyHistogram.value(ofBin: Int(bin) ?? 0) / 1000
                for _ in 0..<count { Timer(label: "analytics_time_to_match_seconds").recordNanoseconds(Int64(seconds * 1e9)) }
            }
            for (name, minor) in delta.sums where name.hasPrefix("gmv_") && minor > 0 {
                Counter(label: "analytics_gmv_minor_units_total", dimensions: [("currency", String(name.dropFirst(4)))]).increment(by: minor)
            }
        }
    }
}
