import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Chat's `chat_messages` collection. `(conversationId, seq)` is unique (no two messages share a
/// place in the timeline) and so is `(conversationId, senderId, clientMessageId)` (a retried send
/// stores nothing new).
public struct MessageRepository: Sendable {
    public static let collectionName = "chat_messages"
    let mongo: MongoClient

    var collection: MongoCollection<ChatMessage> { mongo.collection(Self.collectionName) }

    public func prepare() async throws {
        try await collection.createIndexes([
            MongoIndex(name: "timeline", keys: ["conversationId": 1, "seq": -1], unique: true),
            MongoIndex(name: "idempotency", keys: ["conversationId": 1, "senderId": 1, "clientMessageId": 1], unique: true),
            MongoIndex(name: "sender", keys: ["senderId": 1]),
        ])
    }

    public func find(conversation: String, sender: String, clientMessageID: String) async throws -> ChatMessage? {
        try await collection.findOne(["conversationId": .string(conversation), "senderId": .string(sender), "clientMessageId": .string(clientMessageID)])
    }

    /// A page of the timeline: newest first below `before` (or from the end), or oldest first
    /// above `after` (filling a gap); one more than `limit` is read to tell whether more remain.
    public func page(conversation: String, before: Int?, after: Int?, limit: Int) async throws -> (messages: [ChatMessage], hasMore: Bool) {
        var seq: BSONDocument = [:]
        if let before { seq["$lt"] = .int64(Int64(before)) }
        if let after { seq["$gt"] = .int64(Int64(after)) }
        var filter: BSONDocument = ["conversationId": .string(conversation)]
        if !seq.isEmpty { filter["seq"] = .document(seq) }
        let ascending = after != nil
        let found = try await collection.find(filter, options: FindOptions(sort: ["seq": .int32(ascending ? 1 : -1)], limit: limit + 1))
        return (Array(found.prefix(limit)), found.count > limit)
    }

    public func messages(of sender: String) async throws -> [ChatMessage] {
        try await collection.find(["senderId": .string(sender)])
    }

    public func attachments(inConversation id: String) async throws -> [ChatEvents.Attachment] {
        try await collection.find(["conversationId": .string(id), "attachments.0": ["$exists": true]]).flatMap(\.attachments)
    }

    public func deleteConversation(_ id: String) async throws -> Int {
        try await collection.deleteMany(["conversationId": .string(id)])
    }
}
