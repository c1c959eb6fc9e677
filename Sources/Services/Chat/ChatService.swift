import Foundation
import Logging
import MarketplaceContracts
import MarketplaceMongo
import Synchronization

/// Job conversations: persisted history with per-conversation sequence numbers, server-side
/// read cursors and unread counts, attachments in object storage, limits and moderation.
///
/// A conversation follows its job (Dispatch's `JobAccessDirectory` says who the members are and
/// where the job stands; the `chat` worker turns job events into system entries and closes
/// conversations). Every change that others must hear of writes its event — and, through the
/// `RealtimeFanOut` port, the channel publications it becomes — to the outbox in the same
/// transaction as the change, so nothing is delivered that was not stored, and a message reaches
/// clients in one Kafka hop.
public final class ChatService: Sendable {
    public let mongo: MongoClient
    public let policy: ChatPolicy
    let conversations: ConversationRepository
    let messages: MessageRepository
    let uploads: UploadRepository
    let store: any AttachmentStore
    let rateLimiter: MessageRateLimiter?
    let moderation: any ModerationHook
    let jobs: any JobAccessDirectory
    /// The fan-out records of chat events, appended to the outbox with them (one hop to clients).
    let fanOut: (any RealtimeFanOut)?
    let logger: Logger
    /// Who the members of a conversation are never changes: reading a page needs no lookup of
    /// the conversation once its members are known here (bounded; cleared when full).
    let memberships = Mutex<[String: Membership]>([:])
    static let membershipCacheLimit = 50_000

    struct Membership: Sendable { var clientId: String; var providerId: String }
    /// One writer per conversation at a time in this process (see KeyedSerializer).
    let writers = KeyedSerializer()
    let metrics = ChatMetrics()

    public init(mongo: MongoClient, jobs: any JobAccessDirectory, fanOut: (any RealtimeFanOut)?, store: any AttachmentStore, rateLimiter: MessageRateLimiter?,
                moderation: any ModerationHook = ContactMasking(), policy: ChatPolicy = ChatPolicy(), logger: Logger = Logger(label: "chat")) {
        self.mongo = mongo
        self.fanOut = fanOut
        self.jobs = jobs
        self.store = store
        self.rateLimiter = rateLimiter
        self.moderation = moderation
        self.policy = policy
        self.logger = logger
        conversations = ConversationRepository(mongo: mongo)
        messages = MessageRepository(mongo: mongo)
        uploads = UploadRepository(mongo: mongo)
    }

    public func prepare() async throws {
        try await conversations.prepare()
        try await messages.prepare()
        try await uploads.prepare()
    }

    // MARK: who sees a conversation

    /// The conversation of `jobID` as `caller` may see it: its members and admins; 404 for anyone
    /// else (a stranger cannot tell whether the job exists). A job whose conversation the timeline
    /// worker has not opened yet gets it opened here, from Dispatch's view of the job.
    func visibleConversation(_ caller: Caller, jobID: String) async throws -> Conversation {
        if let conversation = try await conversations.find(jobID) {
            guard caller.role == .admin || conversation.member(caller.userID) != nil else { throw Self.notFound(jobID) }
            return conversation
        }
        guard PlatformIdentifier.isWellFormed(jobID), let access = try await jobs.access(toJob: jobID),
              caller.role == .admin || access.isMember(caller.userID) else { throw Self.notFound(jobID) }
        return try await conversations.insertIfAbsent(Conversation(jobID: jobID, access: access, policy: policy, now: Date()))
    }

    static func notFound(_ jobID: String) -> DomainError { .notFound("conversation '\(jobID)'") }

    /// Whether `caller` may read the conversation, from the membership cache when it can.
    func mayRead(_ caller: Caller, jobID: String) async throws {
        if let known = memberships.withLock({ $0[jobID] }) {
            guard caller.role == .admin || caller.userID == known.clientId || caller.userID == known.providerId else { throw Self.notFound(jobID) }
            return
        }
        let conversation = try await visibleConversation(caller, jobID: jobID)
        memberships.withLock { cache in
            if cache.count >= Self.membershipCacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[jobID] = Membership(clientId: conversation.clientId, providerId: conversation.providerId)
        }
    }

    // MARK: views

    public struct AttachmentView: Codable, Sendable, Equatable {
        public var key: String
        public var contentType: String
        public var size: Int
        /// A short-lived download URL (presigned GET).
        public var url: String
        public var urlExpiresAt: Date
    }

    public struct MessageView: Codable, Sendable, Equatable {
        public var id: String
        public var seq: Int
        public var senderId: String
        public var kind: String
        public var text: String?
        public var attachments: [AttachmentView]
        public var clientMessageId: String?
        public var moderation: [String]?
        public var createdAt: Date
    }

    public struct ConversationView: Codable, Sendable, Equatable {
        public var id: String
        public var jobId: String
        public var clientId: String
        public var providerId: String
        public var status: ConversationStatus
        public var jobStatus: JobStatus
        public var lastSeq: Int
        public var lastMessage: ChatEvents.Message?
        /// The caller's unread count and read cursor (admins: 0 and nil).
        public var unreadCount: Int
        public var readUpTo: Int?
        /// The other member's read cursor (read receipts).
        public var otherReadUpTo: Int?
        public var writableUntil: Date?
        public var lastActivityAt: Date
    }

    func view(_ message: ChatMessage, now: Date = Date()) -> MessageView {
        let expires = now.addingTimeInterval(TimeInterval(policy.downloadURLLifetime))
        return MessageView(id: message._id, seq: message.seq, senderId: message.senderId, kind: message.kind.rawValue, text: message.text,
                           attachments: message.attachments.map {
                               AttachmentView(key: $0.key, contentType: $0.contentType, size: $0.size,
                                              url: store.downloadURL(key: $0.key, expires: policy.downloadURLLifetime).absoluteString, urlExpiresAt: expires)
                           },
                           clientMessageId: message.kind == .user ? message.clientMessageId : nil, moderation: message.moderation, createdAt: message.createdAt)
    }

    func view(_ conversation: Conversation, for caller: Caller, now: Date = Date()) -> ConversationView {
        let member = conversation.member(caller.userID)
        return ConversationView(id: conversation._id, jobId: conversation._id, clientId: conversation.clientId, providerId: conversation.providerId,
                                status: conversation.status(at: now), jobStatus: conversation.jobStatus, lastSeq: conversation.lastSeq,
                                lastMessage: conversation.lastMessage, unreadCount: member.map { conversation.unreadCount(for: $0) } ?? 0,
                                readUpTo: member.map { conversation.readUpTo[$0] }, otherReadUpTo: member.map { conversation.readUpTo[$0.other] },
                                writableUntil: conversation.writableUntil, lastActivityAt: conversation.lastActivityAt)
    }
}
