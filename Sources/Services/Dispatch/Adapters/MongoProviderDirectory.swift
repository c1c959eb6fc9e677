import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Reads a provider's categories from the `provider_profiles` collection that Identity writes
/// (see `ProviderDirectory` for why, and what replaces it).
public struct MongoProviderDirectory: ProviderDirectory {
    struct Profile: Codable, Sendable { var _id: String; var categories: [String] }
    let mongo: MongoClient
    public init(mongo: MongoClient) { self.mongo = mongo }
    public func categories(ofProvider id: String) async throws -> [String]? {
        try await mongo.collection(ProviderProfilesReadModel.collectionName, as: Profile.self).findOne(["_id": .string(id)])?.categories
    }
}
