import Foundation
import MarketplaceContracts
import MarketplaceMessaging
import MarketplaceMongo

/// The conversation as the job's timeline: the `chat` worker (group `chat-timeline`) applies Dispatch's job
/// events (each once, through the inbox): assignment opens the conversation, every status
/// becomes a `system` entry, completion starts the follow-up window, cancellation freezes the
/// conversation at once. A sweep makes conversations read-only when their window ends.
extension ChatService {
    public func apply(_ event: EventEnvelope, inbox: Inbox) async throws {
        let policy = self.policy
        switch event.type {
        case DispatchEvents.jobAssigned:
            let assigned = try event.decode(DispatchEvents.JobAssigned.self)
            let access = JobAccess(clientId: assigned.clientId, providerId: assigned.providerId, status: .assigned, statusChangedAt: event.time)
            let applied = try await inbox.processOnce(event) { session in
                try Self.open(Conversation(jobID: assigned.jobId, access: access, policy: policy, now: event.time), in: session)
                try self.append(Self.systemEntry(jobID: assigned.jobId, text: SystemEntry.text(for: .assigned, by: .provider, reason: nil), event: event),
                                in: session, movingCursorOf: nil, requireWritable: false, traceparent: event.traceparent)
            }
            if applied { metrics.storedSystem.increment() }
        case DispatchEvents.jobStatusChanged:
            let change = try event.decode(DispatchEvents.JobStatusChanged.self)
            let access = JobAccess(clientId: change.clientId, providerId: change.providerId, status: change.from, statusChangedAt: event.time)
            let applied = try await inbox.processOnce(event) { session in
                try Self.open(Conversation(jobID: change.jobId, access: access, policy: policy, now: event.time), in: session)
                var set: BSONDocument = ["jobStatus": .string(change.to.rawValue)]
                switch change.to {
                case .completed:
                    set["writableUntil"] = .date(change.at.addingTimeInterval(policy.followUpWindow))
                case .cancelled:
                    set["status"] = .string(ConversationStatus.frozen.rawValue)
                    set["closedAt"] = .date(change.at)
                    if let reason = change.reason { set["closeReason"] = .string(reason) }
                default:
                    break
                }
                let entry = Self.systemEntry(jobID: change.jobId, text: SystemEntry.text(for: change.to, by: change.by, reason: change.reason), event: event)
                let (_, conversation) = try self.append(entry, in: session, movingCursorOf: nil, requireWritable: false, extraSet: set,
                                                        traceparent: event.traceparent)
                if change.to == .cancelled {
                    try self.announceClosed(conversation._id, status: .frozen, reason: change.reason, members: conversation.members, in: session,
                                            traceparent: event.traceparent)
                }
            }
            if applied {
                metrics.storedSystem.increment()
                if change.to == .cancelled { metrics.closedFrozen.increment() }
            }
        default:
            break
        }
    }

    /// Open conversations whose follow-up window ended become read-only (each with its
    /// `chat.conversation-closed` event). Returns how many changed.
    @discardableResult
    public func closeExpiredConversations(now: Date = Date(), batch: Int = 200) async throws -> Int {
        var closed = 0
        for due in try await conversations.dueForReadOnly(now: now, limit: batch) {
            let changed: Bool = try await mongo.withTransaction { [self] session in
                guard let conversation = try session.collection(ConversationRepository.collectionName, as: Conversation.self).findOneAndUpdate(
                    ["_id": .string(due._id), "status": .string(ConversationStatus.open.rawValue)],
                    ["$set": ["status": .string(ConversationStatus.readOnly.rawValue), "closedAt": .date(due.writableUntil ?? now)]]) else { return false }
                try self.announceClosed(conversation._id, status: .readOnly, reason: "follow-up window ended", members: conversation.members, in: session,
                                        traceparent: nil)
                return true
            }
            if changed {
                closed += 1
                metrics.closedReadOnly.increment()
            }
        }
        return closed
    }

    /// Inserts the conversation unless the job already has one.
    static func open(_ conversation: Conversation, in session: MongoSession) throws {
        _ = try session.collection(ConversationRepository.collectionName, as: Conversation.self)
            .updateOne(["_id": .string(conversation._id)], ["$setOnInsert": .document(try BSONEncoder().encode(conversation))], upsert: true)
    }

    static func systemEntry(jobID: String, text: String, event: EventEnvelope) -> ChatMessage {
        // The event's id as the client message id: a job event can never add its entry twice.
        ChatMessage(_id: UUID().uuidString.lowercased(), conversationId: jobID, seq: 0, senderId: ChatMessage.systemSender, kind: .system, text: text,
                    attachments: [], clientMessageId: event.id, moderation: nil, anonymised: nil, createdAt: event.time)
    }

    func announceClosed(_ jobID: String, status: ConversationStatus, reason: String?, members: [String], in session: MongoSession,
                               traceparent: String?) throws {
        let closed = ChatEvents.ConversationClosed(jobId: jobID, status: status.rawValue, reason: reason, members: members)
        try record(try EventEnvelope(source: ChatEvents.source, type: ChatEvents.conversationClosed, aggregateID: jobID, payload: closed,
                                     traceparent: traceparent), in: session)
    }
}
