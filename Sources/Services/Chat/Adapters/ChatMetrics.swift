import Metrics

/// Chat's Prometheus series (on every process's `/metrics`).
struct ChatMetrics: Sendable {
    /// Messages stored, by kind (`user`, `system`).
    let storedUser = Counter(label: "chat_messages_stored_total", dimensions: [("kind", "user")])
    let storedSystem = Counter(label: "chat_messages_stored_total", dimensions: [("kind", "system")])
    /// Sends answered with the message already stored under their clientMessageId.
    let duplicates = Counter(label: "chat_messages_duplicate_total")
    let rateLimited = Counter(label: "chat_messages_rate_limited_total")
    let moderated = Counter(label: "chat_messages_moderated_total")
    let closedReadOnly = Counter(label: "chat_conversations_closed_total", dimensions: [("status", "read_only")])
    let closedFrozen = Counter(label: "chat_conversations_closed_total", dimensions: [("status", "frozen")])
    let retentionMessages = Counter(label: "chat_retention_deleted_messages_total")
    let anonymised = Counter(label: "chat_messages_anonymised_total")
    /// Send latency through the use case (validation, rate limit, transaction).
    let sendDuration = Timer(label: "chat_send_duration_seconds")
}
