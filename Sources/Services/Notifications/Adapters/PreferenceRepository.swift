import Foundation
import MarketplaceMongo

/// Users' notification preferences (`notification_preferences`, one document per user).
public struct PreferenceRepository: Sendable {
    public static let collectionName = "notification_preferences"
    let mongo: MongoClient

    public init(mongo: MongoClient) { self.mongo = mongo }

    struct Stored: Codable, Sendable {
        var _id: String
        var preferences: NotificationPreferences
        var updatedAt: Date
    }

    var collection: MongoCollection<Stored> { mongo.collection(Self.collectionName) }

    public func find(_ userID: String) async throws -> NotificationPreferences? {
        try await collection.findOne(["_id": .string(userID)])?.preferences
    }

    public func save(_ preferences: NotificationPreferences, for userID: String, at date: Date) async throws {
        _ = try await collection.updateOne(["_id": .string(userID)],
                                           ["$set": ["preferences": try BSONEncoder().encodeValue(preferences), "updatedAt": .date(date)]], upsert: true)
    }

    public func delete(_ userID: String) async throws { _ = try await collection.deleteOne(["_id": .string(userID)]) }
}
