import Foundation

/// Events the chat service publishes (through the outbox) on `Topic.chatMessages`, keyed by the
/// conversation's id (= the job's id), so one conversation's events keep their order. Their
/// `chat:<jobId>` publications and `user:<id>` unread counts travel with them (the
/// `RealtimeFanOut` port; companions of the outbox entry); notifications reach an offline member
/// from `messageSent`.
public enum ChatEvents {
    public static let source = "/services/chat"
    public static let messageSent: EventType = "chat.message-sent.v1"
    public static let messagesRead: EventType = "chat.messages-read.v1"
    public static let conversationClosed: EventType = "chat.conversation-closed.v1"

    /// A file a message carries: an object key in the chat bucket (the bytes never pass through
    /// events; readers get a short-lived download URL from REST).
    public struct Attachment: Codable, Sendable, Equatable {
        public var key: String
        public var contentType: String
        public var size: Int

        public init(key: String, contentType: String, size: Int) {
            self.key = key
            self.contentType = contentType
            self.size = size
        }
    }

    /// A stored message as members see it.
    public struct Message: Codable, Sendable, Equatable {
        public var id: String
        public var seq: Int
        public var senderId: String
        /// `user` (a member wrote it) or `system` (a job-state entry).
        public var kind: String
        public var text: String?
        public var attachments: [Attachment]
        public var createdAt: Date

        public init(id: String, seq: Int, senderId: String, kind: String, text: String?, attachments: [Attachment], createdAt: Date) {
            self.id = id
            self.seq = seq
            self.senderId = senderId
            self.kind = kind
            self.text = text
            self.attachments = attachments
            self.createdAt = createdAt
        }
    }

    /// A member's unread count after the event, for their other devices (`user:<id>`).
    public struct Unread: Codable, Sendable, Equatable {
        public var userId: String
        public var unreadCount: Int

        public init(userId: String, unreadCount: Int) {
            self.userId = userId
            self.unreadCount = unreadCount
        }
    }

    public struct MessageSent: Codable, Sendable, Equatable {
        public var jobId: String
        public var message: Message
        /// Every member's unread count once this message is stored.
        public var unread: [Unread]

        public init(jobId: String, message: Message, unread: [Unread]) {
            self.jobId = jobId
            self.message = message
            self.unread = unread
        }
    }

    /// A member's read cursor moved (the other member sees `readUpTo` move: a read receipt).
    public struct MessagesRead: Codable, Sendable, Equatable {
        public var jobId: String
        public var userId: String
        public var readUpTo: Int
        public var unreadCount: Int

        public init(jobId: String, userId: String, readUpTo: Int, unreadCount: Int) {
            self.jobId = jobId
            self.userId = userId
            self.readUpTo = readUpTo
            self.unreadCount = unreadCount
        }
    }

    /// The conversation stopped taking messages: `read_only` after the follow-up window,
    /// `frozen` at once when the job was cancelled.
    public struct ConversationClosed: Codable, Sendable, Equatable {
        public var jobId: String
        public var status: String
        public var reason: String?
        public var members: [String]

        public init(jobId: String, status: String, reason: String?, members: [String]) {
            self.jobId = jobId
            self.status = status
            self.reason = reason
            self.members = members
        }
    }
}
