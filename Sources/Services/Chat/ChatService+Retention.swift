import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Keeping only what may be kept: conversations closed longer than the retention period go,
/// with their messages and attachments; a deleted account's messages are anonymised (author
/// and content erased, the timeline's `seq` kept so the other member sees no gap).
extension ChatService {
    public struct SweepResult: Sendable, Equatable {
        public var conversations = 0
        public var messages = 0
        public var attachments = 0
    }

    /// Deletes what conversations closed before `now - retention` hold: objects first, then
    /// messages, then the conversation is marked purged (a tombstone), so a sweep interrupted
    /// half-way is finished by the next one.
    @discardableResult
    public func sweepRetention(now: Date = Date(), batch: Int = 100) async throws -> SweepResult {
        var result = SweepResult()
        for conversation in try await conversations.closedBefore(now.addingTimeInterval(-policy.retention), limit: batch) {
            var keys = Set(try await messages.attachments(inConversation: conversation._id).map(\.key))
            let announced = try await uploads.uploads(inConversation: conversation._id)
            keys.formUnion(announced.map(\._id))
            for key in keys.sorted() {
                try await store.delete(key: key)
                result.attachments += 1
            }
            for upload in announced { try await uploads.delete(upload._id) }
            result.messages += try await messages.deleteConversation(conversation._id)
            try await conversations.markPurged(conversation._id, at: now)
            result.conversations += 1
        }
        metrics.retentionMessages.increment(by: result.messages)
        if result.conversations > 0 {
            logger.info("chat retention sweep", metadata: ["conversations": "\(result.conversations)", "messages": "\(result.messages)",
                                                          "attachments": "\(result.attachments)"])
        }
        return result
    }

    /// A deleted account (`user.deleted`): its messages lose author, text and attachments (the
    /// objects are deleted), its uploads go, and conversations whose last message was theirs
    /// show the anonymised entry. Idempotent: running it again changes nothing more.
    @discardableResult
    public func anonymise(userID: String) async throws -> Int {
        let authored = try await messages.messages(of: userID)
        for message in authored {
            for attachment in message.attachments { try await store.delete(key: attachment.key) }
        }
        for upload in try await uploads.uploads(by: userID) {
            try await store.delete(key: upload._id)
            try await uploads.delete(upload._id)
        }
        for message in authored {
            var erased = message
            erased.senderId = ChatMessage.deletedSender
            erased.text = nil
            erased.attachments = []
            erased.moderation = nil
            erased.anonymised = true
            try await mongo.withTransaction { [erased] session in
                _ = try session.collection(MessageRepository.collectionName, as: ChatMessage.self).updateOne(
                    ["_id": .string(message._id)],
                    ["$set": ["senderId": .string(erased.senderId), "clientMessageId": .string(message._id), "text": .null, "attachments": .array([]), "anonymised": .bool(true)],
                     "$unset": ["moderation": ""]])
                _ = try session.collection(ConversationRepository.collectionName, as: Conversation.self).updateOne(
                    ["_id": .string(message.conversationId), "lastMessage.id": .string(message._id)],
                    ["$set": ["lastMessage": try BSONEncoder().encodeValue(erased.event)]])
            }
        }
        metrics.anonymised.increment(by: authored.count)
        if !authored.isEmpty { logger.info("chat messages anonymised", metadata: ["user": "\(userID)", "messages": "\(authored.count)"]) }
        return authored.count
    }
}
