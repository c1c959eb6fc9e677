import Foundation
import MarketplaceMongo

/// An upload a member announced (`POST …/attachments`): which conversation and member the key
/// belongs to, and the type and size they declared. A message may reference only its own
/// conversation's keys, uploaded by its sender.
public struct AttachmentUpload: Codable, Sendable, Equatable {
    public var _id: String
    public var conversationId: String
    public var uploaderId: String
    public var contentType: String
    public var size: Int
    public var createdAt: Date
}

/// Chat's `chat_uploads` collection.
public struct UploadRepository: Sendable {
    public static let collectionName = "chat_uploads"
    let mongo: MongoClient

    var collection: MongoCollection<AttachmentUpload> { mongo.collection(Self.collectionName) }

    public func prepare() async throws {
        try await collection.createIndexes([MongoIndex(name: "conversation", keys: ["conversationId": 1])])
    }

    public func insert(_ upload: AttachmentUpload) async throws { try await collection.insert(upload) }

    public func find(_ key: String) async throws -> AttachmentUpload? { try await collection.findOne(["_id": .string(key)]) }

    public func uploads(inConversation id: String) async throws -> [AttachmentUpload] {
        try await collection.find(["conversationId": .string(id)])
    }

    public func uploads(by uploader: String) async throws -> [AttachmentUpload] {
        try await collection.find(["uploaderId": .string(uploader)])
    }

    public func delete(_ key: String) async throws { _ = try await collection.deleteOne(["_id": .string(key)]) }
}
