import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Offers in MongoDB (`offers`): one per provider and request (unique), so a wave can never offer
/// the same provider twice.
struct OfferRepository: Sendable {
    static let collectionName = "offers"
    static let indexes = [
        MongoIndex(name: "request_provider", keys: ["requestId": 1, "providerId": 1], unique: true),
        MongoIndex(name: "provider_status", keys: ["providerId": 1, "status": 1]),
    ]

    let offers: MongoCollection<Offer>

    init(mongo: MongoClient) { offers = mongo.collection(Self.collectionName, as: Offer.self) }

    func prepare() async throws { try await offers.createIndexes(Self.indexes) }

    func find(id: String) async throws -> Offer? { try await offers.findOne(["_id": .string(id)]) }

    /// A provider's offers still open at `now`, newest first.
    func pending(provider: String, now: Date = Date()) async throws -> [Offer] {
        try await offers.find(["providerId": .string(provider), "status": "pending", "expiresAt": ["$gt": .date(now)]],
                              options: FindOptions(sort: ["createdAt": -1]))
    }

    /// Moves a pending offer to `status`; the offer as it was, nil when it was not pending.
    @discardableResult
    func settle(_ id: String, as status: Offer.Status) async throws -> Offer? {
        try await offers.findOneAndUpdate(["_id": .string(id), "status": "pending"], ["$set": ["status": .string(status.rawValue)]])
    }
}
