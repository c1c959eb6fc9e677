import Foundation
import MarketplaceContracts
import MarketplaceMessaging
import MarketplaceMongo

/// Sending, reading and listing. A send is: idempotency check, rate limit, attachment checks,
/// moderation, then one transaction that takes the next `seq`, stores the message, moves the
/// sender's read cursor and writes `chat.message-sent` to the outbox.
extension ChatService {
    public struct SendInput: Decodable, Sendable {
        public var clientMessageId: String
        public var text: String?
        /// Object keys from `POST …/attachments`, uploaded before sending.
        public var attachments: [String]?

        public init(clientMessageId: String, text: String? = nil, attachments: [String]? = nil) {
            self.clientMessageId = clientMessageId
            self.text = text
            self.attachments = attachments
        }
    }

    public struct ConversationPage: Codable, Sendable, Equatable {
        public var conversations: [ConversationView]
        public var page: Int
        public var limit: Int
        public var hasMore: Bool
    }

    /// A page of the timeline. The conversation's newest `seq` is the first message of a page
    /// without `before`/`after` (and `lastSeq` of the conversation resource).
    public struct MessagePage: Codable, Sendable, Equatable {
        public var messages: [MessageView]
        /// Whether older (or, with `after`, newer) messages remain beyond this page.
        public var hasMore: Bool
    }

    public struct ReadState: Codable, Sendable, Equatable {
        public var jobId: String
        public var readUpTo: Int
        public var unreadCount: Int
    }

    /// The caller's conversations, newest activity first.
    public func myConversations(_ caller: Caller, page: Int, limit: Int) async throws -> ConversationPage {
        let found = try await conversations.list(member: caller.userID, skip: (page - 1) * limit, limit: limit + 1)
        let now = Date()
        return ConversationPage(conversations: found.prefix(limit).map { view($0, for: caller, now: now) }, page: page, limit: limit,
                                hasMore: found.count > limit)
    }

    public func conversation(_ caller: Caller, jobID: String) async throws -> ConversationView {
        view(try await visibleConversation(caller, jobID: jobID), for: caller)
    }

    /// A page of the timeline: newest first (below `before` when given), or oldest first above
    /// `after` (how a client fills a gap it saw in `seq`).
    public func messages(_ caller: Caller, jobID: String, before: Int?, after: Int?, limit: Int) async throws -> MessagePage {
        try await mayRead(caller, jobID: jobID)
        let found = try await messages.page(conversation: jobID, before: before, after: after, limit: limit)
        let now = Date()
        return MessagePage(messages: found.messages.map { view($0, now: now) }, hasMore: found.hasMore)
    }

    /// Stores a member's message (201), or returns the one stored for the same `clientMessageId`
    /// (`created` false: 200). The common path costs one read and one transaction; the
    /// idempotent answer comes from the unique index, looked up only when a send is refused.
    public func send(_ caller: Caller, jobID: String, _ input: SendInput, traceparent: String?) async throws -> (message: MessageView, created: Bool) {
        let started = ContinuousClock.now
        let conversation = try await visibleConversation(caller, jobID: jobID)
        guard let member = conversation.member(caller.userID) else {
            throw DomainError(kind: .forbidden, code: "not_a_member", title: "Only the job's client and provider write in its conversation")
        }
        try policy.validateClientMessageID(input.clientMessageId)
        // A retry of a stored message is answered with it even when a new one would be refused.
        func stored() async throws -> ChatMessage? {
            let existing = try await messages.find(conversation: jobID, sender: caller.userID, clientMessageID: input.clientMessageId)
            if existing != nil { metrics.duplicates.increment() }
            return existing
        }
        let now = Date()
        guard conversation.status(at: now).isWritable else {
            if let existing = try await stored() { return (view(existing), false) }
            throw Self.closed(conversation, now: now)
        }
        let keys = input.attachments ?? []
        try policy.validateAttachmentCount(keys.count)
        let text = try policy.validateText(input.text, hasAttachments: !keys.isEmpty)
        if let rateLimiter, let waitMillis = try await rateLimiter.take(caller.userID, now: now) {
            if let existing = try await stored() { return (view(existing), false) }
            metrics.rateLimited.increment()
            throw DomainError(kind: .tooManyRequests, code: "rate_limited", title: "Too many messages",
                              detail: "at most \(Int(policy.messagesPerSecond)) messages per second", retryAfter: max(1, (waitMillis + 999) / 1_000))
        }
        let attachments = try await checkedAttachments(keys, conversation: jobID, sender: caller.userID)
        let outcome = text.map { moderation.review($0) }
        let draft = ChatMessage(_id: UUID().uuidString.lowercased(), conversationId: jobID, seq: 0, senderId: caller.userID, kind: .user,
                                text: outcome?.text ?? text, attachments: attachments, clientMessageId: input.clientMessageId,
                                moderation: outcome.flatMap { $0.applied.isEmpty ? nil : $0.applied }, anonymised: nil, createdAt: now)
        do {
            let appended = try await writers.run(jobID) { [mongo, self] in
                try await mongo.withTransaction { session in
                    try self.append(draft, in: session, known: conversation, movingCursorOf: member, requireWritable: true, traceparent: traceparent).message
                }
            }
            metrics.storedUser.increment()
            let elapsed = ContinuousClock.now - started
            metrics.sendDuration.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            if let applied = appended.moderation {
                metrics.moderated.increment()
                logger.info("message moderated", metadata: ["conversation": "\(jobID)", "seq": "\(appended.seq)", "rules": "\(applied)"])
            }
            return (view(appended), true)
        } catch let error as MongoError where error.isDuplicateKey {
            // The same clientMessageId again (a retry, or a race with itself): the first one won.
            guard let existing = try await stored() else { throw error }
            return (view(existing), false)
        }
    }

    /// Moves the caller's read cursor to `upToSeq` (never backwards; at most the conversation's
    /// last seq) and tells the other member
    /// (a read receipt) and the caller's other devices (the unread count).
    public func markRead(_ caller: Caller, jobID: String, upToSeq: Int, traceparent: String?) async throws -> ReadState {
        let conversation = try await visibleConversation(caller, jobID: jobID)
        guard let member = conversation.member(caller.userID) else {
            throw DomainError(kind: .forbidden, code: "not_a_member", title: "Only members have a read cursor")
        }
        guard upToSeq >= 0 else { throw DomainError.validation("upToSeq: 0 or more") }
        // Beyond the newest message means "everything": the cursor stops at the last seq.
        let upToSeq = min(upToSeq, conversation.lastSeq)
        let field = "readUpTo.\(member.rawValue)"
        let moved: Conversation? = try await writers.run(jobID) { [mongo, self] in try await mongo.withTransaction { session in
            guard let updated = try session.collection(ConversationRepository.collectionName, as: Conversation.self)
                .findOneAndUpdate(["_id": .string(jobID), field: ["$lt": .int64(Int64(upToSeq))]], ["$set": [field: .int64(Int64(upToSeq))]]) else {
                return nil  // already there or beyond
            }
            let read = ChatEvents.MessagesRead(jobId: jobID, userId: caller.userID, readUpTo: upToSeq, unreadCount: updated.unreadCount(for: member))
            try self.record(try EventEnvelope(source: ChatEvents.source, type: ChatEvents.messagesRead, aggregateID: jobID, payload: read,
                                              traceparent: traceparent), in: session)
            return updated
        } }
        var current = conversation
        if let moved { current = moved } else if let stored = try await conversations.find(jobID) { current = stored }
        return ReadState(jobId: jobID, readUpTo: current.readUpTo[member], unreadCount: current.unreadCount(for: member))
    }

    static func closed(_ conversation: Conversation, now: Date) -> DomainError {
        let status = conversation.status(at: now)
        return DomainError.conflict("conversation_closed", status == .frozen
            ? "the job was cancelled; the conversation is frozen" + (conversation.closeReason.map { " (\($0))" } ?? "")
            : "the follow-up window after completion has ended; the conversation is read-only")
    }

    /// Takes the conversation's next `seq` for `draft`, stores it, moves `member`'s cursor to it
    /// (a sender has read what it answers) and writes `chat.message-sent`, in the caller's
    /// transaction. The conversation is advanced by compare-and-set on `lastSeq` from `known`
    /// (read before the transaction) or a read in the transaction; a concurrent send makes the
    /// transaction conflict and run again. With `requireWritable`, a conversation that is no
    /// longer open refuses (409) and takes no `seq`.
    @discardableResult
    func append(_ draft: ChatMessage, in session: MongoSession, known: Conversation? = nil, movingCursorOf member: ConversationMember?,
                       requireWritable: Bool, extraSet: BSONDocument = [:], traceparent: String?) throws -> (message: ChatMessage, conversation: Conversation) {
        let conversations = session.collection(ConversationRepository.collectionName, as: Conversation.self)
        func current() throws -> Conversation {
            guard let found = try conversations.find(["_id": .string(draft.conversationId)], options: FindOptions(limit: 1)).first else {
                throw DomainError.notFound("conversation '\(draft.conversationId)'")
            }
            return found
        }
        var conversation = try known ?? current()
        var message = draft
        for attempt in 1...3 {
            if requireWritable, !conversation.status(at: draft.createdAt).isWritable { throw Self.closed(conversation, now: draft.createdAt) }
            message.seq = conversation.lastSeq + 1
            var set = extraSet
            set["lastSeq"] = .int64(Int64(message.seq))
            set["lastActivityAt"] = .date(draft.createdAt)
            set["lastMessage"] = try BSONEncoder().encodeValue(message.event)
            if let member { set["readUpTo.\(member.rawValue)"] = .int64(Int64(message.seq)) }
            var filter: BSONDocument = ["_id": .string(draft.conversationId), "lastSeq": .int64(Int64(conversation.lastSeq))]
            if requireWritable { filter["status"] = .string(ConversationStatus.open.rawValue) }
            if try conversations.updateOne(filter, ["$set": .document(set)]).matched == 1 { break }
            guard attempt < 3 else { throw MongoError.server(code: 112, message: "conversation \(draft.conversationId) kept moving (WriteConflict)") }
            conversation = try current()  // `known` was older than the transaction's snapshot
        }
        conversation.lastSeq = message.seq
        conversation.lastMessage = message.event
        if let member { conversation.readUpTo[member] = message.seq }
        try session.collection(MessageRepository.collectionName, as: ChatMessage.self).insert(message)
        let sent = ChatEvents.MessageSent(jobId: draft.conversationId, message: message.event, unread: conversation.unread)
        try record(try EventEnvelope(source: ChatEvents.source, type: ChatEvents.messageSent, aggregateID: draft.conversationId,
                                     payload: sent, traceparent: traceparent), in: session)
        return (message, conversation)
    }

    /// The event on `chat-messages` and its channel publications on the fan-out topic, in the
    /// caller's transaction (the relay publishes them in this order).
    func record(_ event: EventEnvelope, in session: MongoSession) throws {
        let publications = try fanOut?.publications(for: event) ?? []
        try Outbox.append(event, to: .chatMessages, with: publications.map { ($0, Topic.realtimePublications) }, in: session)
    }
}
