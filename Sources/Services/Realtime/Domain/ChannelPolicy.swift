import MarketplaceContracts

/// Who may subscribe to and publish on a channel (no I/O: the job's parties and state are
/// looked up by the caller through `JobAccessDirectory`).
public enum ChannelPolicy {
    public static func maySubscribe(user: String, to channel: RealtimeChannel, job: JobAccess?) -> Bool {
        switch channel {
        case .user(let owner): return owner == user
        case .job, .location:
            guard let job, job.active else { return false }
            return job.isMember(user)
        case .chat:
            guard let job, job.status != .cancelled else { return false }
            return job.isMember(user)
        }
    }

    /// `user:` and `job:` carry what services publish; on `location:` only the assigned
    /// provider publishes; on `chat:` both parties publish typing indicators (messages are sent
    /// through REST, stored first).
    public static func mayPublish(user: String, to channel: RealtimeChannel, job: JobAccess?) -> Bool {
        switch channel {
        case .user, .job: return false
        case .location:
            guard let job, job.active else { return false }
            return user == job.providerId
        case .chat:
            guard let job, job.status != .cancelled else { return false }
            return job.isMember(user)
        }
    }
}
