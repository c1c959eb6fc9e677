import Foundation
import Logging
import MarketplaceContracts
import MarketplaceMongo

/// Notifications: domain events become an in-app feed entry (pushed live on `user:<id>`) and
/// send requests for push, e-mail and SMS, chosen by the recipient's preferences, quiet hours and
/// presence; one sender per channel delivers them, each (event, recipient, channel) at most once.
///
/// The planner (`plan(_:inbox:)`) writes everything one event decides — feed entries, their
/// fan-out records, delivery records and send requests — in one transaction with the inbox
/// record, through the outbox. Senders (`deliver(_:)`) claim a delivery record before sending,
/// so a redelivered request is not sent twice.
public final class NotificationService: Sendable {
    public struct Settings: Sendable {
        /// The link the reset e-mail carries; `{token}` is replaced.
        public var resetLink: String
        public var defaultLocale: String
        public var smsFallbackDelay: TimeInterval
        /// Attempts per send before it is given up and dead-lettered.
        public var maxAttempts: Int
        public var initialBackoff: Duration
        public var maxBackoff: Duration

        public init(resetLink: String = "http://127.0.0.1:8080/reset-password?token={token}", defaultLocale: String = "pt-BR",
                    smsFallbackDelay: TimeInterval = 60, maxAttempts: Int = 8, initialBackoff: Duration = .milliseconds(500),
                    maxBackoff: Duration = .seconds(30)) {
            self.resetLink = resetLink
            self.defaultLocale = defaultLocale
            self.smsFallbackDelay = smsFallbackDelay
            self.maxAttempts = maxAttempts
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    public let mongo: MongoClient
    public let settings: Settings
    let feed: FeedRepository
    let deliveries: DeliveryRepository
    let devices: DeviceRepository
    let preferences: PreferenceRepository
    let contacts: any ContactDirectory
    let presence: any PresenceDirectory
    let fanOut: (any RealtimeFanOut)?
    let renderer: TemplateRenderer
    let planner: DeliveryPlanner
    /// The channels that are configured; a request for another is recorded as skipped.
    let senders: [NotificationChannel: any ChannelSender]
    /// Turns devices' tokens into push endpoints; nil when push is not configured.
    let pushRegistry: (any PushEndpointRegistry)?
    let logger: Logger
    let metrics = NotificationMetrics()

    public init(mongo: MongoClient, contacts: any ContactDirectory, presence: any PresenceDirectory, fanOut: (any RealtimeFanOut)?,
                renderer: TemplateRenderer, senders: [any ChannelSender],
                pushRegistry: (any PushEndpointRegistry)?,
                settings: Settings = Settings(), logger: Logger = Logger(label: "notifications")) {
        self.mongo = mongo
        self.contacts = contacts
        self.presence = presence
        self.fanOut = fanOut
        self.renderer = renderer
        self.senders = Dictionary(senders.map { ($0.channel, $0) }, uniquingKeysWith: { first, _ in first })
        self.pushRegistry = pushRegistry
        self.settings = settings
        self.logger = logger
        planner = DeliveryPlanner(smsFallbackDelay: settings.smsFallbackDelay)
        feed = FeedRepository(mongo: mongo)
        deliveries = DeliveryRepository(mongo: mongo)
        devices = DeviceRepository(mongo: mongo)
        preferences = PreferenceRepository(mongo: mongo)
    }

    public func prepare() async throws {
        try await feed.prepare()
        try await deliveries.prepare()
        try await devices.prepare()
    }

    /// The user's preferences, the defaults (in the platform's default locale) when unset.
    public func preferences(of userID: String) async throws -> NotificationPreferences {
        try await preferences.find(userID) ?? NotificationPreferences(locale: settings.defaultLocale)
    }
}
