/// A Kafka topic by its logical name, as `topics/*.yaml` declares it. Services name topics only
/// through these constants; the environment's `kafka.topic.prefix` is applied to them in one
/// place (Messaging's `TopicNames`), never by a service.
public struct Topic: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    /// User and provider profile lifecycle (Identity).
    public static let users = Topic(rawValue: "marketplace.users.v1")
    /// Authentication events: password resets (Identity).
    public static let auth = Topic(rawValue: "marketplace.auth.v1")
    /// Providers' positions and availability, keyed by provider (Dispatch, the realtime gateway).
    public static let providerLocations = Topic(rawValue: "marketplace.provider-locations.v1")
    /// Service requests: created, cancelled, unfulfilled (Dispatch).
    public static let serviceRequests = Topic(rawValue: "marketplace.service-requests.v1")
    /// Offers to providers: sent, accepted, withdrawn, expired (Dispatch).
    public static let offers = Topic(rawValue: "marketplace.offers.v1")
    /// Jobs: assigned and every status change (Dispatch).
    public static let jobs = Topic(rawValue: "marketplace.jobs.v1")
    /// Published reviews (Dispatch).
    public static let reviews = Topic(rawValue: "marketplace.reviews.v1")
    /// The realtime fan-out: publications, joins, leaves and revocations, keyed by channel.
    public static let realtimePublications = Topic(rawValue: "marketplace.realtime-publications.v1")
    /// Chat messages of job conversations (the chat service).
    public static let chatMessages = Topic(rawValue: "marketplace.chat-messages.v1")
    /// Payment lifecycle (the payments service).
    public static let payments = Topic(rawValue: "marketplace.payments.v1")
    /// Notification requests and outcomes (the notifications service).
    public static let notifications = Topic(rawValue: "marketplace.notifications.v1")
    /// Derived analytics records (the analytics service).
    public static let analytics = Topic(rawValue: "marketplace.analytics.v1")
    /// Records a consumer could not handle after its retries, with `dlq_*` headers.
    public static let deadLetter = Topic(rawValue: "marketplace.dead-letter.v1")

    /// Every topic the platform names; a test checks it against `topics/*.yaml` both ways.
    public static let all: [Topic] = [
        .users, .auth, .providerLocations, .serviceRequests, .offers, .jobs, .reviews, .realtimePublications,
        .chatMessages, .payments, .notifications, .analytics, .deadLetter,
    ]
}
