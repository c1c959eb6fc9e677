import MarketplaceContracts

/// The conversation as the job's timeline: each job status becomes a `system` entry.
public enum SystemEntry {
    public static func text(for status: JobStatus, by actor: JobActor, reason: String?) -> String {
        switch status {
        case .assigned: return "The job was assigned: you can chat here."
        case .enRoute: return "The provider is on the way."
        case .arrived: return "The provider has arrived."
        case .inProgress: return "The work has started."
        case .completed: return "The job was completed. Follow-up messages are possible for a while."
        case .cancelled:
            let who = actor == .client ? "the client" : actor == .provider ? "the provider" : "an administrator"
            return "The job was cancelled by \(who)" + (reason.map { ": \($0)" } ?? ".") + " This conversation is closed."
        }
    }
}
