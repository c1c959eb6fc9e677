import MarketplaceContracts
/// The gateway's channels. A name is `<namespace>:<id>`; the namespace decides who may
/// subscribe and publish (ChannelPolicy) and how publications are delivered.
///
/// - `user:<userId>`: that user only; offers, job status, notifications (services publish).
/// - `job:<jobId>`: the job's client and assigned provider while the job is active; status
///   changes (services publish).
/// - `location:<jobId>`: same audience; the assigned provider publishes its position here.
///   Conflated: a slow subscriber gets the latest position, not a backlog.
/// - `chat:<jobId>`: the job's conversation: stored messages, read receipts and closing (the
///   chat service publishes them through the bridge); members publish only typing indicators,
///   which are ephemeral (never stored, no offset); join/leave pushes. Open while the job is
///   active or completed (follow-ups); revoked when the conversation closes.
public enum RealtimeChannel: Hashable, Sendable {
    case user(String)
    case job(String)
    case location(String)
    case chat(String)

    public init?(_ name: String) {
        guard let colon = name.firstIndex(of: ":") else { return nil }
        let id = String(name[name.index(after: colon)...])
        guard PlatformIdentifier.isWellFormed(id) else { return nil }
        switch name[..<colon] {
        case "user": self = .user(id)
        case "job": self = .job(id)
        case "location": self = .location(id)
        case "chat": self = .chat(id)
        default: return nil
        }
    }

    public var name: String {
        switch self {
        case .user(let id): "user:\(id)"
        case .job(let id): "job:\(id)"
        case .location(let id): "location:\(id)"
        case .chat(let id): "chat:\(id)"
        }
    }

    /// The job whose state governs access, for job-bound channels.
    public var jobID: String? {
        switch self {
        case .user: nil
        case .job(let id), .location(let id), .chat(let id): id
        }
    }

    /// Channels whose access ends when the job completes or is cancelled (the conversation's
    /// `chat:` channel ends when the conversation closes: follow-ups come after completion).
    public static func jobBound(_ jobID: String) -> [RealtimeChannel] { [.job(jobID), .location(jobID)] }

    /// Only the newest undelivered publication matters (positions).
    public var conflated: Bool { if case .location = self { true } else { false } }

    /// Subscribers are kept in presence (across nodes, in Redis): job-bound channels for the
    /// presence command, `user:` channels so other services can tell a connected user
    /// (`PresenceDirectory`: Notifications pushes in-app instead of to the phone).
    public var tracksPresence: Bool { if case .user = self { true } else { jobID != nil } }

    /// Subscribers get join/leave pushes.
    public var joinLeave: Bool { if case .chat = self { true } else { false } }
}
