import Foundation
import MarketplaceMongo

/// The aggregates (`analytics_buckets`): one document per scope, granularity and start, changed
/// only by `$inc` and `$addToSet` — merges that need no read — one upsert per bucket per batch.
struct BucketRepository: Sendable {
    static let baseName = "analytics_buckets"
    static let indexes = [MongoIndex(name: "scope_range", keys: ["scope": 1, "granularity": 1, "start": 1])]

    let collectionName: String
    let buckets: MongoCollection<MetricBucket>

    init(mongo: MongoClient, generation: AnalyticsGeneration) {
        collectionName = generation.collection(Self.baseName)
        buckets = mongo.collection(collectionName, as: MetricBucket.self)
    }

    func prepare() async throws { try await buckets.createIndexes(Self.indexes) }

    /// One upsert per bucket, all in one bulk write (one round trip for the batch's buckets).
    func upsert(_ deltas: [BucketKey: BucketDelta], in session: MongoSession) throws {
        try session.collection(collectionName, as: MetricBucket.self).upsertEach(deltas.map { key, delta in (["_id": .string(key.id)], Self.update(key, delta)) })
    }

    /// `$inc` and `$addToSet` only: merges that need no read.
    static func update(_ key: BucketKey, _ delta: BucketDelta) -> BSONDocument {
        var increments = BSONDocument()
        for (name, value) in delta.counters where value != 0 { increments["counters.\(name)"] = .int64(Int64(value)) }
        for (name, value) in delta.sums where value != 0 { increments["sums.\(name)"] = .int64(Int64(value)) }
        for (name, histogram) in delta.histograms {
            for (bin, count) in histogram.bins { increments["histograms.\(name).\(bin)"] = .int64(Int64(count)) }
        }
        var additions = BSONDocument()
        for (name, members) in delta.sets where !members.isEmpty {
            additions["sets.\(name)"] = ["$each": .array(members.sorted().map(BSONValue.string))]
        }
        var update: BSONDocument = ["$setOnInsert": ["scope": .string(key.scope.key), "granularity": .string(key.granularity.rawValue), "start": .date(key.start)]]
        if !increments.isEmpty { update["$inc"] = .document(increments) }
        if !additions.isEmpty { update["$addToSet"] = .document(additions) }
        return update
    }

    func range(scope: String, granularity: Granularity, from: Date, to: Date) async throws -> [MetricBucket] {
        try await buckets.find(["scope": .string(scope), "granularity": .string(granularity.rawValue),
                                "start": ["$gte": .date(from), "$lt": .date(to)]], options: FindOptions(sort: ["start": 1]))
    }

    /// Every area bucket of a granularity in a range (the supply and demand grid).
    func areas(granularity: Granularity, from: Date, to: Date) async throws -> [MetricBucket] {
        try await buckets.find(["scope": ["$regex": "^area:"], "granularity": .string(granularity.rawValue),
                                "start": ["$gte": .date(from), "$lt": .date(to)]])
    }
}

/// The facts the projector remembers (`analytics_requests`, `analytics_offers`, `analytics_jobs`,
/// `analytics_providers`, `analytics_pairs`), written in the batch's transaction.
struct FactRepository: Sendable {
    static let baseNames = ["analytics_requests", "analytics_offers", "analytics_jobs", "analytics_providers", "analytics_pairs"]

    /// Jobs completed between a provider and a client, and when the earliest was (`$min`: the
    /// same whatever order the completions are folded in).
    struct Pair: Codable, Sendable, Equatable {
        var _id: String
        var completed: Int
        var first: Date?
    }

    let mongo: MongoClient
    let requests: String, offers: String, jobs: String, providers: String, pairs: String

    init(mongo: MongoClient, generation: AnalyticsGeneration) {
        self.mongo = mongo
        let names = Self.baseNames.map(generation.collection)
        (requests, offers, jobs, providers, pairs) = (names[0], names[1], names[2], names[3], names[4])
    }

    func requests(_ ids: [String]) async throws -> [String: RequestFact] { try await find(requests, ids, as: RequestFact.self) { $0._id } }
    func offers(_ ids: [String]) async throws -> [String: OfferFact] { try await find(offers, ids, as: OfferFact.self) { $0._id } }
    func jobs(_ ids: [String]) async throws -> [String: JobFact] { try await find(jobs, ids, as: JobFact.self) { $0._id } }
    func providers(_ ids: [String]) async throws -> [String: ProviderFact] { try await find(providers, ids, as: ProviderFact.self) { $0._id } }
    func pairs(_ ids: [String]) async throws -> [String: Pair] { try await find(pairs, ids, as: Pair.self) { $0._id } }

    private func find<T: Codable & Sendable>(_ collection: String, _ ids: [String], as type: T.Type, id: (T) -> String) async throws -> [String: T] {
        guard !ids.isEmpty else { return [:] }
        let found = try await mongo.collection(collection, as: T.self).find(["_id": ["$in": .array(Array(Set(ids)).map(BSONValue.string))]])
        return Dictionary(found.map { (id($0), $0) }, uniquingKeysWith: { first, _ in first })
    }

    static func pairID(provider: String, client: String) -> String { "\(provider)|\(client)" }

    /// The batch's facts in few writes: new requests, offers and jobs (their ids are new: the
    /// events that leave them are new to the inbox) inserted in one write per collection, those
    /// that exist already (a replay) and the others one by one.
    /// The documents written and the write commands sent.
    func apply(_ changes: [FactChange], existing: Set<String>, in session: MongoSession) throws -> (documents: Int, commands: Int) {
        var requests: [String: RequestFact] = [:], offers: [String: OfferFact] = [:], jobs: [String: JobFact] = [:]
        var others: [FactChange] = []
        for change in changes {
            switch change {
            case .request(let fact) where !existing.contains(fact._id): requests[fact._id] = fact
            case .offer(let fact) where !existing.contains(fact._id): offers[fact._id] = fact
            case .job(let fact) where !existing.contains(fact._id): jobs[fact._id] = fact
            default: others.append(change)
            }
        }
        var commands = 0
        if !requests.isEmpty { try session.collection(self.requests, as: RequestFact.self).insert(contentsOf: Array(requests.values)); commands += 1 }
        if !offers.isEmpty { try session.collection(self.offers, as: OfferFact.self).insert(contentsOf: Array(offers.values)); commands += 1 }
        if !jobs.isEmpty { try session.collection(self.jobs, as: JobFact.self).insert(contentsOf: Array(jobs.values)); commands += 1 }
        for change in others { try apply(change, in: session) }
        return (requests.count + offers.count + jobs.count + others.count, commands + others.count)
    }

    /// Which of these ids already have a request, offer or job fact (one read per collection).
    func existing(_ changes: [FactChange]) async throws -> Set<String> {
        var found = Set<String>()
        let requestIDs = changes.compactMap { if case .request(let fact) = $0 { fact._id } else { nil } }
        let offerIDs = changes.compactMap { if case .offer(let fact) = $0 { fact._id } else { nil } }
        let jobIDs = changes.compactMap { if case .job(let fact) = $0 { fact._id } else { nil } }
        found.formUnion(try await self.requests(requestIDs).keys)
        found.formUnion(try await self.offers(offerIDs).keys)
        found.formUnion(try await self.jobs(jobIDs).keys)
        return found
    }

    func apply(_ change: FactChange, in session: MongoSession) throws {
        func put<T: Codable & Sendable>(_ collection: String, _ id: String, _ value: T) throws {
            var document = try BSONEncoder().encode(value)
            document["_id"] = nil
            _ = try session.collection(collection, as: T.self).updateOne(["_id": .string(id)], ["$set": .document(document)], upsert: true)
        }
        switch change {
        case .request(let fact): try put(requests, fact._id, fact)
        case .offer(let fact): try put(offers, fact._id, fact)
        case .job(let fact): try put(jobs, fact._id, fact)
        case .provider(let fact):
            _ = try session.collection(providers, as: ProviderFact.self).updateOne(
                ["_id": .string(fact._id)], ["$set": ["timeZone": fact.timeZone.map(BSONValue.string) ?? .null]], upsert: true)
        case .completedPair(let provider, let client, let time):
            _ = try session.collection(pairs, as: Pair.self).updateOne(["_id": .string(Self.pairID(provider: provider, client: client))],
                                                                       ["$inc": ["completed": .int64(1)], "$min": ["first": .date(time)]], upsert: true)
        }
    }
}
