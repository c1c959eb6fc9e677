/// Whether a conversation takes messages: `open` while the job is active and for the follow-up
/// window after it completed, then `read_only`; `frozen` at once when the job is cancelled.
/// Read-only and frozen are final.
public enum ConversationStatus: String, Codable, Sendable, CaseIterable {
    case open
    case readOnly = "read_only"
    case frozen

    public var isWritable: Bool { self == .open }
}
