import Foundation
import MarketplaceContracts

/// One job's conversation: id = the job's id, members = its client and assigned provider.
/// Sequence numbers are the conversation's own (1, 2, 3, … without gaps): `lastSeq` is the
/// newest, and a member's unread count is `lastSeq` minus their read cursor.
public struct Conversation: Codable, Sendable, Equatable {
    public var _id: String
    public var clientId: String
    public var providerId: String
    /// Both members, for "my conversations" (one multikey index).
    public var members: [String]
    public var status: ConversationStatus
    public var jobStatus: JobStatus
    public var lastSeq: Int
    public var readUpTo: ReadCursors
    public var lastMessage: ChatEvents.Message?
    public var lastActivityAt: Date
    /// For a completed job: the end of the follow-up window.
    public var writableUntil: Date?
    /// When it stopped taking messages (retention counts from here).
    public var closedAt: Date?
    public var closeReason: String?
    /// When retention deleted its messages; the conversation stays as a tombstone, so that it
    /// is not opened again as new and its `seq` never restarts.
    public var purgedAt: Date?
    public var createdAt: Date

    public var id: String { _id }

    /// A new conversation for a job in the state `access` describes.
    public init(jobID: String, access: JobAccess, policy: ChatPolicy, now: Date) {
        _id = jobID
        clientId = access.clientId
        providerId = access.providerId
        members = [access.clientId, access.providerId]
        jobStatus = access.status
        lastSeq = 0
        readUpTo = ReadCursors()
        lastActivityAt = now
        createdAt = now
        status = .open
        switch access.status {
        case .completed:
            let until = access.statusChangedAt.addingTimeInterval(policy.followUpWindow)
            writableUntil = until
            if until <= now { status = .readOnly; closedAt = until }
        case .cancelled:
            status = .frozen
            closedAt = access.statusChangedAt
            closeReason = access.cancellationReason
        default:
            break
        }
    }

    public func member(_ userID: String) -> ConversationMember? {
        userID == clientId ? .client : userID == providerId ? .provider : nil
    }

    public func userID(of member: ConversationMember) -> String { member == .client ? clientId : providerId }

    public func unreadCount(for member: ConversationMember) -> Int { max(0, lastSeq - readUpTo[member]) }

    /// The status as of `now`: an open conversation past its follow-up window is read-only even
    /// before the closing sweep has recorded it.
    public func status(at now: Date) -> ConversationStatus {
        if status == .open, let writableUntil, writableUntil <= now { return .readOnly }
        return status
    }

    /// Every member's unread count (after a message, for their devices).
    public var unread: [ChatEvents.Unread] {
        ConversationMember.allCases.map { ChatEvents.Unread(userId: userID(of: $0), unreadCount: unreadCount(for: $0)) }
    }
}
