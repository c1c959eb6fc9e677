import Foundation
import MarketplaceContracts

/// A stored message. `clientMessageId` makes sending idempotent per sender; `moderation` records
/// what the pre-send hook changed; `anonymised` marks messages whose author deleted their account.
public struct ChatMessage: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable { case user, system }

    public var _id: String
    public var conversationId: String
    public var seq: Int
    public var senderId: String
    public var kind: Kind
    public var text: String?
    public var attachments: [ChatEvents.Attachment]
    public var clientMessageId: String
    public var moderation: [String]?
    public var anonymised: Bool?
    public var createdAt: Date

    /// The sender id of system entries and of messages whose author was erased.
    public static let systemSender = "system"
    public static let deletedSender = "deleted-user"

    public var event: ChatEvents.Message {
        ChatEvents.Message(id: _id, seq: seq, senderId: senderId, kind: kind.rawValue, text: text, attachments: attachments, createdAt: createdAt)
    }
}
