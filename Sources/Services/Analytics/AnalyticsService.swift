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
    let logger: Logger
    static let inboxBaseName = "inbox_analytics"
    /// Which generation is current (not per generation: it is what switches).
    static let stateCollection = "analytics_state"

    public init(mongo: MongoClient, settings: Settings = .init(), logger: Logger = Logger(label: "analytics")) {
        self.mongo = mongo
        self.settings = settings
        self.logger = logger
    }

    /// One generation's collections.
    struct Store: Sendable {
        let generation: AnalyticsGeneration
        let inbox: String
        let buckets: BucketRepository
        let facts: FactRepository

        init(mongo: MongoClient, generation: AnalyticsGeneration) {
            self.generation = generation
            inbox = generation.collection(AnalyticsService.inboxBaseName)
            buckets = BucketRepository(mongo: mongo, generation: generation)
            facts = FactRepository(mongo: mongo, generation: generation)
        }

        var collections: [String] { [inbox, buckets.collectionName] + FactRepository.baseNames.map(generation.collection) }
    }

    struct GenerationState: Codable, Sendable {
        var _id: String
        var current: Int
        var switchedAt: Date?
    }

    func store(_ generation: AnalyticsGeneration) -> Store { Store(mongo: mongo, generation: generation) }

    /// The generation the live worker writes and the queries read (one small read).
    public func currentGeneration() async throws -> AnalyticsGeneration {
        let state = try await mongo.collection(Self.stateCollection, as: GenerationState.self).findOne(["_id": "generation"])
        return AnalyticsGeneration(state?.current ?? 0)
    }

    func currentStore() async throws -> Store { store(try await currentGeneration()) }

    public func prepare() async throws { try await currentStore().buckets.prepare() }

    struct InboxEntry: Codable, Sendable { var _id: String; var type: String; var processedAt: Date }

    /// What one batch did.
    public struct BatchOutcome: Sendable, Equatable {
        public var counted = 0
        public var duplicates = 0
        public var late = 0
        /// Documents written: one upsert per bucket touched, and the inbox records and facts.
        public var bucketWrites = 0
        public var otherWrites = 0
        /// Write commands sent (round trips): the inbox insert, the facts' inserts and upserts, and
        /// one bulk write for all the buckets.
        public var writeCommands = 0

        public init() {}

        public mutating func add(_ other: BatchOutcome) {
            counted += other.counted
            duplicates += other.duplicates
            late += other.late
            bucketWrites += other.bucketWrites
            otherWrites += other.otherWrites
            writeCommands += other.writeCommands
        }
    }

    /// Events that leave facts other topics' events need (a request's category and area, a
    /// provider's time zone) go first within a batch; each partition keeps its order.
    static func foldingOrder(_ events: [EventEnvelope]) -> [EventEnvelope] {
        let early: Set<EventType> = [DispatchEvents.requestCreated, DispatchEvents.requestCancelled, DispatchEvents.requestUnfulfilled,
                                     IdentityEvents.providerProfileUpdated]
        return events.filter { early.contains($0.type) } + events.filter { !early.contains($0.type) }
    }

    /// Folds a fetched batch in, in one transaction: the inbox records (one insert), the facts the
    /// events leave, and one upsert per bucket. Redelivered events (already in the inbox) and
    /// repeats within the batch are skipped. An event is late when its own time is more than the
    /// grace period before it arrived (`arrivals`, by event id: the broker's timestamps in a
    /// rebuild; `now` otherwise). `generation`: the current one when nil.
    @discardableResult
    public func apply(_ batch: [EventEnvelope], now: Date = Date(), arrivals: [String: Date] = [:],
                      generation: AnalyticsGeneration? = nil) async throws -> BatchOutcome {
        var chosen = generation
        if chosen == nil { chosen = try await currentGeneration() }
        let store = store(chosen!)
        let facts = store.facts
        var outcome = BatchOutcome()
        var seen = Set<String>()
        let unique = Self.foldingOrder(batch.filter { seen.insert($0.id).inserted })
        let processed = Set(try await mongo.collection(store.inbox, as: InboxEntry.self)
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
                case .pair(let provider, let client):
                    // A pair folded before the earliest completions were dated counts as long ago.
                    context.firstCompletionWithClient = pairs[FactRepository.pairID(provider: provider, client: client)].map { $0.first ?? .distantPast }
                }
            }
            let (made, left) = try AnalyticsProjector.project(event, facts: context)
            for change in left {
                switch change {
                case .request(let fact): requests[fact._id] = fact
                case .offer(let fact): offers[fact._id] = fact
                case .job(let fact): jobs[fact._id] = fact
                case .provider(let fact): zones[fact._id] = fact.timeZone
                case .completedPair(let provider, let client, let time):
                    let id = FactRepository.pairID(provider: provider, client: client)
                    var pair = pairs[id] ?? FactRepository.Pair(_id: id, completed: 0, first: time)
                    pair.completed += 1
                    pair.first = min(pair.first ?? .distantPast, time)
                    pairs[id] = pair
                }
            }
            changes += left
            let closed = (arrivals[event.id] ?? now).addingTimeInterval(-settings.grace)
            if event.time < closed {
                outcome.late += 1  // its buckets are closed: remembered, not counted
                continue
            }
            contributions += made.filter { $0.time >= closed }
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
        let merged = deltas.filter { !$0.value.isEmpty }
        let existing = try await facts.existing(changes)
        let factWrites = try await mongo.withTransaction { [changes] session in
            try session.collection(store.inbox, as: InboxEntry.self).insert(contentsOf: inbox)
            let writes = try facts.apply(changes, existing: existing, in: session)
            try store.buckets.upsert(merged, in: session)
            return writes
        }
        outcome.bucketWrites = merged.count
        outcome.otherWrites = inbox.count + factWrites.documents
        outcome.writeCommands = 1 + factWrites.commands + (merged.isEmpty ? 0 : 1)
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
