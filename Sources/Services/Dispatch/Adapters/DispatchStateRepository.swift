import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Where each request's dispatch stands (`dispatch_states`, one per request): wave timers that
/// survive restarts and that any worker instance can advance.
struct DispatchStateRepository: Sendable {
    static let collectionName = "dispatch_states"
    static let indexes = [MongoIndex(name: "due", keys: ["status": 1, "nextWaveAt": 1])]

    let states: MongoCollection<DispatchState>

    init(mongo: MongoClient) { states = mongo.collection(Self.collectionName, as: DispatchState.self) }

    func prepare() async throws { try await states.createIndexes(Self.indexes) }

    func exists(_ requestID: String) async throws -> Bool { try await states.count(["_id": .string(requestID)]) > 0 }

    /// Active dispatches whose next wave is due at `now`, the most overdue first.
    func due(now: Date, limit: Int = 50) async throws -> [DispatchState] {
        try await states.find(["status": "active", "nextWaveAt": ["$lte": .date(now)]], options: FindOptions(sort: ["nextWaveAt": 1], limit: limit))
    }
}
