import Foundation
import MarketplaceMongo

/// The in-app feed (`notifications`), newest first per user.
public struct FeedRepository: Sendable {
    public static let collectionName = "notifications"
    let mongo: MongoClient

    public init(mongo: MongoClient) { self.mongo = mongo }

    var collection: MongoCollection<FeedEntry> { mongo.collection(Self.collectionName) }

    public func prepare() async throws {
        try await collection.createIndexes([
            MongoIndex(name: "user_feed", keys: ["userId": 1, "_id": -1]),
            MongoIndex(name: "user_unread", keys: ["userId": 1, "readAt": 1]),
            MongoIndex(name: "user_job", keys: ["userId": 1, "jobId": 1, "createdAt": -1]),
        ])
    }

    /// A page older than `cursor` (an id), newest first; one more than `limit` tells whether more exist.
    public func page(userID: String, before cursor: String?, limit: Int) async throws -> (entries: [FeedEntry], hasMore: Bool) {
        var filter: BSONDocument = ["userId": .string(userID)]
        if let cursor { filter["_id"] = ["$lt": .string(cursor)] }
        let found = try await collection.find(filter, options: FindOptions(sort: ["_id": -1], limit: limit + 1))
        return (Array(found.prefix(limit)), found.count > limit)
    }

    public func unreadCount(userID: String) async throws -> Int {
        try await collection.count(["userId": .string(userID), "readAt": .null])
    }

    public func find(_ id: String) async throws -> FeedEntry? { try await collection.findOne(["_id": .string(id)]) }

    /// Marks the entry read (first time only); nil when it is not the user's.
    public func markRead(_ id: String, userID: String, at date: Date) async throws -> FeedEntry? {
        _ = try await collection.updateOne(["_id": .string(id), "userId": .string(userID), "readAt": .null], ["$set": ["readAt": .date(date)]])
        return try await collection.findOne(["_id": .string(id), "userId": .string(userID)])
    }

    public func markAllRead(userID: String, at date: Date) async throws -> Int {
        try await collection.updateMany(["userId": .string(userID), "readAt": .null], ["$set": ["readAt": .date(date)]]).modified
    }

    /// Whether a later notification about the same job reached the user (what a push of the
    /// earlier one would contradict).
    public func hasNewer(userID: String, jobID: String, than date: Date, excluding id: String?) async throws -> Bool {
        var filter: BSONDocument = ["userId": .string(userID), "jobId": .string(jobID), "createdAt": ["$gt": .date(date)]]
        if let id { filter["_id"] = ["$ne": .string(id)] }
        return try await collection.count(filter) > 0
    }

    public func deleteAll(userID: String) async throws { _ = try await collection.deleteMany(["userId": .string(userID)]) }
}
