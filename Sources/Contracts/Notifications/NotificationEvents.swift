import Foundation

/// Events the Notifications service publishes on `Topic.notifications` (keyed by the recipient):
/// a feed entry created (also pushed live on the recipient's `user:` channel), a send request for
/// one channel (consumed by that channel's sender), and each request's outcome.
public enum NotificationEvents {
    public static let source = "/services/notifications"

    public static let created: EventType = "marketplace.notification.created.v1"
    public static let requested: EventType = "marketplace.notification.requested.v1"
    public static let delivered: EventType = "marketplace.notification.delivered.v1"
    public static let failed: EventType = "marketplace.notification.failed.v1"

    /// An in-app feed entry, as the recipient's devices show it.
    public struct Created: Codable, Sendable, Equatable {
        public var id: String
        public var userId: String
        public var kind: String
        public var category: String
        public var title: String
        public var body: String
        public var jobId: String?
        public var createdAt: Date

        public init(id: String, userId: String, kind: String, category: String, title: String, body: String, jobId: String?, createdAt: Date) {
            self.id = id
            self.userId = userId
            self.kind = kind
            self.category = category
            self.title = title
            self.body = body
            self.jobId = jobId
            self.createdAt = createdAt
        }
    }

    /// The outcome of one send request (`delivered` or `failed`).
    public struct Outcome: Codable, Sendable, Equatable {
        public var deliveryId: String
        public var userId: String
        public var channel: String
        public var kind: String
        public var status: String
        public var attempts: Int
        public var providerMessageId: String?
        public var error: String?

        public init(deliveryId: String, userId: String, channel: String, kind: String, status: String, attempts: Int,
                    providerMessageId: String? = nil, error: String? = nil) {
            self.deliveryId = deliveryId
            self.userId = userId
            self.channel = channel
            self.kind = kind
            self.status = status
            self.attempts = attempts
            self.providerMessageId = providerMessageId
            self.error = error
        }
    }
}
