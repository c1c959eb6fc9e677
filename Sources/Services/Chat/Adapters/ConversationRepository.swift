import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Chat's `chat_conversations` collection: one document per job's conversation.
public struct ConversationRepository: Sendable {
    public static let collectionName = "chat_conversations"
    let mongo: MongoClient

    var collection: MongoCollection<Conversation> { mongo.collection(Self.collectionName) }

    public func prepare() async throws {
        try await collection.createIndexes([
            MongoIndex(name: "member_activity", keys: ["members": 1, "lastActivityAt": -1]),
            MongoIndex(name: "closing_due", keys: ["status": 1, "writableUntil": 1]),
            MongoIndex(name: "retention_due", keys: ["closedAt": 1]),
        ])
    }

    public func find(_ id: String) async throws -> Conversation? {
        try await collection.findOne(["_id": .string(id)])
    }

    /// Stores `conversation` unless one exists for the job; returns the stored one either way.
    public func insertIfAbsent(_ conversation: Conversation) async throws -> Conversation {
        do {
            try await collection.insert(conversation)
            return conversation
        } catch let error as MongoError where error.isDuplicateKey {
            guard let existing = try await find(conversation._id) else { throw error }
            return existing
        }
    }

    /// The member's conversations, newest activity first.
    public func list(member userID: String, skip: Int, limit: Int) async throws -> [Conversation] {
        try await collection.find(["members": .string(userID)], options: FindOptions(sort: ["lastActivityAt": -1, "_id": 1], skip: skip, limit: limit))
    }

    /// Open conversations whose follow-up window has passed.
    public func dueForReadOnly(now: Date, limit: Int) async throws -> [Conversation] {
        try await collection.find(["status": .string(ConversationStatus.open.rawValue), "writableUntil": ["$lte": .date(now)]],
                                  options: FindOptions(limit: limit))
    }

    /// Conversations closed before `cutoff` whose messages are still kept (retention).
    public func closedBefore(_ cutoff: Date, limit: Int) async throws -> [Conversation] {
        try await collection.find(["closedAt": ["$lte": .date(cutoff)], "purgedAt": ["$exists": false]], options: FindOptions(limit: limit))
    }

    /// Keeps the conversation as a tombstone without its last message.
    public func markPurged(_ id: String, at now: Date) async throws {
        _ = try await collection.updateOne(["_id": .string(id)], ["$set": ["purgedAt": .date(now), "lastMessage": .null]])
    }
}
