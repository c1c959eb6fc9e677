import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Users in MongoDB. The unique index on `email` is what makes two racing registrations with one
/// address end in exactly one success.
public struct UserRepository: Sendable {
    public static let collectionName = "users"
    public static let indexes = [
        MongoIndex(name: "email_unique", keys: ["email": 1], unique: true),
        MongoIndex(name: "role_status", keys: ["role": 1, "status": 1]),
    ]

    let mongo: MongoClient
    var users: MongoCollection<User> { mongo.collection(Self.collectionName, as: User.self) }

    public init(mongo: MongoClient) { self.mongo = mongo }

    public func prepare() async throws { try await users.createIndexes(Self.indexes) }

    func find(id: String) async throws -> User? { try await users.findOne(["_id": .string(id)]) }
    func find(email: String) async throws -> User? { try await users.findOne(["email": .string(email)]) }
}
