import Metrics

/// Notifications' Prometheus series, per channel (on every process's `/metrics`).
struct NotificationMetrics: Sendable {
    struct PerChannel: Sendable {
        let sent: Counter
        let failed: Counter
        let retried: Counter
        let skipped: Counter
        let duplicates: Counter
        /// From the domain event's time to the provider's acceptance.
        let latency: Timer

        init(_ channel: NotificationChannel) {
            let dimensions = [("channel", channel.rawValue)]
            sent = Counter(label: "notifications_sent_total", dimensions: dimensions)
            failed = Counter(label: "notifications_failed_total", dimensions: dimensions)
            retried = Counter(label: "notifications_retried_total", dimensions: dimensions)
            skipped = Counter(label: "notifications_skipped_total", dimensions: dimensions)
            duplicates = Counter(label: "notifications_duplicate_requests_total", dimensions: dimensions)
            latency = Timer(label: "notification_delivery_latency_seconds", dimensions: dimensions)
        }
    }

    let channels: [NotificationChannel: PerChannel] = Dictionary(uniqueKeysWithValues: NotificationChannel.allCases.map { ($0, PerChannel($0)) })
    let planned = Counter(label: "notifications_planned_total")
    let held = Counter(label: "notifications_held_total")
    let cancelled = Counter(label: "notifications_cancelled_total")
    let devicesDisabled = Counter(label: "notification_devices_disabled_total")

    subscript(channel: NotificationChannel) -> PerChannel { channels[channel]! }
}
