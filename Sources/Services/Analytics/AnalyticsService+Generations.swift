import Foundation
import MarketplaceMongo

/// Generations of the aggregates: a rebuild fills a fresh one, then switches the live worker and
/// the queries over in one write (`analytics_state`).
extension AnalyticsService {
    /// The generation after the current one, empty (what an abandoned rebuild left is dropped),
    /// with its indexes.
    public func freshGeneration() async throws -> AnalyticsGeneration {
        let next = try await currentGeneration().next
        for name in store(next).collections { try await mongo.collection(name, as: BSONDocument.self).drop() }
        try await store(next).buckets.prepare()
        return next
    }

    /// Makes `generation` the one the live worker writes and the queries read.
    public func switchTo(_ generation: AnalyticsGeneration, at time: Date = Date()) async throws {
        _ = try await mongo.collection(Self.stateCollection, as: GenerationState.self).updateOne(
            ["_id": "generation"], ["$set": ["current": .int64(Int64(generation.number)), "switchedAt": .date(time)]], upsert: true)
    }

    /// Drops the generation two before `generation` (each rebuild drops the one its predecessor
    /// replaced; the predecessor itself is kept to go back to).
    public func dropGeneration(twoBefore generation: AnalyticsGeneration) async throws {
        guard generation.number >= 2 else { return }
        for name in store(AnalyticsGeneration(generation.number - 2)).collections { try await mongo.collection(name, as: BSONDocument.self).drop() }
    }

    /// The names of a generation's collections.
    public func collections(of generation: AnalyticsGeneration) -> [String] { store(generation).collections }

    /// Every bucket of a generation, by id (to compare a rebuild with what the live worker made).
    public func allBuckets(_ generation: AnalyticsGeneration) async throws -> [String: MetricBucket] {
        let found = try await store(generation).buckets.buckets.find([:])
        return Dictionary(found.map { ($0._id, $0) }, uniquingKeysWith: { first, _ in first })
    }
}
