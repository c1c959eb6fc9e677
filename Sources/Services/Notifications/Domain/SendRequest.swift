import Foundation

/// One notification for one channel, as the planner hands it to that channel's sender (the data
/// of `notification.requested` on `Topic.notifications`). Rendered already: a sender only speaks
/// its protocol.
public struct SendRequest: Codable, Sendable, Equatable {
    /// `<source event id>:<user id>:<channel>`: the idempotency key of the send.
    public var deliveryId: String
    public var userId: String
    public var channel: NotificationChannel
    public var kind: NotificationKind
    public var urgency: NotificationKind.Urgency
    public var jobId: String?
    public var notificationId: String?
    /// When what it reports happened (the domain event's time).
    public var eventTime: Date
    /// Not worth sending after this (an offer that expired, a job update overtaken by time).
    public var expiresAt: Date?
    public var email: EmailContent?
    public var push: PushContent?
    public var sms: SMSContent?

    public struct EmailContent: Codable, Sendable, Equatable {
        public var to: String
        public var name: String
        public var subject: String
        public var text: String
        public var html: String
    }

    public struct PushContent: Codable, Sendable, Equatable {
        public var title: String
        public var body: String
        /// Later pushes with the same key replace earlier undelivered ones (the job).
        public var collapseKey: String?
        public var ttlSeconds: Int
        public var data: [String: String]
    }

    public struct SMSContent: Codable, Sendable, Equatable {
        public var to: String
        public var text: String
    }

    public static func deliveryID(source: String, userID: String, channel: NotificationChannel) -> String {
        "\(source):\(userID):\(channel.rawValue)"
    }
}
