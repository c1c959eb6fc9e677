import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Service categories in MongoDB (`categories`; the slug is the `_id`, so uniqueness comes with
/// it). Retired categories stay for history.
struct CategoryRepository: Sendable {
    static let collectionName = "categories"
    static let indexes = [MongoIndex(name: "status_name", keys: ["status": 1, "name": 1])]

    let categories: MongoCollection<ServiceCategory>

    init(mongo: MongoClient) { categories = mongo.collection(Self.collectionName, as: ServiceCategory.self) }

    func prepare() async throws { try await categories.createIndexes(Self.indexes) }

    func active() async throws -> [ServiceCategory] {
        try await categories.find(["status": "active"], options: FindOptions(sort: ["name": 1]))
    }

    func isActive(_ slug: String) async throws -> Bool {
        try await categories.count(["_id": .string(slug), "status": "active"]) == 1
    }

    func findActive(_ slug: String) async throws -> ServiceCategory? {
        try await categories.findOne(["_id": .string(slug), "status": "active"])
    }

    /// Throws `MongoError.duplicateKey` when the slug exists.
    func insert(_ category: ServiceCategory) async throws { try await categories.insert(category) }

    /// Changes an active category; nil when there is none with that slug.
    func updateActive(_ slug: String, set: BSONDocument) async throws -> ServiceCategory? {
        try await categories.findOneAndUpdate(["_id": .string(slug), "status": "active"], ["$set": .document(set)])
    }
}
