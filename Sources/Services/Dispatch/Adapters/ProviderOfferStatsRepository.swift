import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Offers received and accepted per provider (`provider_offer_stats`), the acceptance-rate
/// signal of ranking. Counted right after the offers commit, not inside the transaction: every
/// dispatch touching the same popular providers' counters made concurrent transactions abort each
/// other (found by the two-worker crash test); a crash in between loses one count, nothing else.
struct ProviderOfferStatsRepository: Sendable {
    static let collectionName = "provider_offer_stats"

    struct Stats: Codable, Sendable {
        var _id: String
        var offered: Int?
        var accepted: Int?
    }

    let stats: MongoCollection<Stats>

    init(mongo: MongoClient) { stats = mongo.collection(Self.collectionName, as: Stats.self) }

    func stats(of providers: [String]) async throws -> [String: Stats] {
        let found = try await stats.find(["_id": ["$in": .array(providers.map { .string($0) })]])
        return Dictionary(found.map { ($0._id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// Best effort: a failed count is a ranking signal slightly off, never a failed dispatch. One
    /// bulk write for the wave. (Counting in memory and flushing every 500 ms was measured and
    /// dropped: on a server that works one operation at a time the flushes stalled decisions, p99
    /// 23-40 ms against 14-16 ms; docs/benchmarks.md.)
    func count(offered providers: [String]) async {
        _ = try? await stats.upsertEach(providers.map { (["_id": .string($0)], ["$inc": ["offered": 1]]) })
    }

    func count(accepted provider: String) async {
        _ = try? await stats.updateOne(["_id": .string(provider)], ["$inc": ["accepted": 1]], upsert: true)
    }
}
