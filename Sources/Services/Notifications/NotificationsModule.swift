import Foundation
import Hummingbird
import Logging
import MarketplaceAWS
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplacePlatform
import MarketplaceSMTP

/// Notifications on the platform's seam. Needs Identity's `ContactDirectory` and Realtime's
/// `PresenceDirectory` and `RealtimeFanOut` as ports; reads no other module's data.
///
/// Configuration (`notifications.*`): `reset.url` (the reset e-mail's link, `{token}` replaced;
/// http://127.0.0.1:8080/reset-password?token={token}), `locale` (pt-BR), `sms.fallback.delay`
/// seconds (60), `retry.attempts` (8).
/// E-mail: `smtp.host` (127.0.0.1 in development; unset in production: e-mail off), `smtp.port`
/// (2525 / 587), `smtp.security` (none / required; or opportunistic), `smtp.username`,
/// `smtp.password`, `smtp.from` (no-reply@marketplace.local), `smtp.verify.certificate` (true).
/// Push through SNS: `push.android.application.arn`, `push.ios.application.arn` (production:
/// push is off until both are set; development creates them on moto unless `push.enabled=false`).
/// SMS through SNS: `sms.enabled` (true in development, false in production until set),
/// `sms.daily.per.user` (5), `sms.daily.total` (10000), `sms.sender.id`.
/// SNS is reached through the shared `aws.*` section.
public struct NotificationsModule: ServiceModule {
    public static let name = "notifications"
    public static var openAPI: OpenAPIFragment { NotificationsOpenAPI.fragment }

    public let service: NotificationService
    /// Creates the development platform applications at prepare (nil when push is configured or off).
    let pendingPushSetup: (@Sendable () async throws -> SNSEndpointRegistry)?

    public init(context: ModuleContext) async throws {
        let section = context.configuration
        let production = context.platform.configuration.mode == .production
        let logger = context.logger
        let settings = NotificationService.Settings(
            resetLink: try section.string("reset.url", default: "http://127.0.0.1:8080/reset-password?token={token}"),
            defaultLocale: try Self.locale(section),
            smsFallbackDelay: try section.seconds("sms.fallback.delay", default: 60, in: 1...86_400),
            maxAttempts: try section.integer("retry.attempts", default: 8, in: 1...50))
        let aws = try context.aws
        let sns = SNSClient(configuration: SNSConfiguration(aws: aws))
        var senders: [any ChannelSender] = []

        // E-mail
        if let host = try section.optionalString("smtp.host") ?? (production ? nil : "127.0.0.1") {
            let securityText = try section.string("smtp.security", default: production ? "required" : "none")
            guard let security = SMTPConfiguration.Security(rawValue: securityText) else {
                throw ConfigurationError(key: "notifications.smtp.security", value: securityText, reason: "expected none, opportunistic or required")
            }
            let smtp = SMTPConfiguration(host: host, port: try section.integer("smtp.port", default: production ? 587 : 2525, in: 1...65535),
                                         security: security, username: try section.optionalString("smtp.username"),
                                         password: try section.secret("smtp.password"),
                                         verifyCertificate: try section.flag("smtp.verify.certificate", default: true))
            senders.append(EmailSender(client: SMTPClient(configuration: smtp), from: try section.string("smtp.from", default: "no-reply@marketplace.local")))
        } else {
            logger.notice("e-mail notifications are off: notifications.smtp.host is not set")
        }

        // Push
        let devices = DeviceRepository(mongo: context.mongo)
        var registry: SNSEndpointRegistry?
        var pendingPushSetup: (@Sendable () async throws -> SNSEndpointRegistry)?
        let android = try section.optionalString("push.android.application.arn"), ios = try section.optionalString("push.ios.application.arn")
        if let android, let ios {
            registry = SNSEndpointRegistry(sns: sns, applications: [.android: android, .ios: ios])
        } else if !production, try section.flag("push.enabled", default: true) {
            pendingPushSetup = { try await SNSEndpointRegistry.creatingApplications(sns: sns, prefix: "marketplace") }
        } else {
            logger.notice("push notifications are off: notifications.push.android.application.arn and notifications.push.ios.application.arn are not both set")
        }
        let pushRegistry = LazyPushRegistry(registry)
        let metrics = NotificationMetrics()
        senders.append(PushSender(sns: sns, devices: devices, onDisabled: { _ in metrics.devicesDisabled.increment() }))

        // SMS
        if try section.flag("sms.enabled", default: !production) {
            senders.append(SMSSender(sns: sns, redis: context.redis, perUserDaily: try section.integer("sms.daily.per.user", default: 5, in: 0...1_000),
                                     platformDaily: try section.integer("sms.daily.total", default: 10_000, in: 0...10_000_000),
                                     senderID: try section.optionalString("sms.sender.id")))
        } else {
            logger.notice("SMS notifications are off: notifications.sms.enabled is not true")
        }

        let service = NotificationService(
            mongo: context.mongo, contacts: try context.ports.require((any ContactDirectory).self, by: Self.name),
            presence: try context.ports.require((any PresenceDirectory).self, by: Self.name),
            fanOut: try context.ports.require((any RealtimeFanOut).self, by: Self.name),
            renderer: try await TemplateRenderer.bundled(), senders: senders,
            pushRegistry: (registry != nil || pendingPushSetup != nil) ? pushRegistry : nil, settings: settings, logger: logger)
        var setup: (@Sendable () async throws -> SNSEndpointRegistry)?
        if let create = pendingPushSetup {
            setup = {
                let made = try await create()
                pushRegistry.set(made)
                return made
            }
        }
        self.init(service: service, pendingPushSetup: setup)
    }

    /// A module over a service built by the caller (tests choose the senders and settings).
    public init(service: NotificationService, pendingPushSetup: (@Sendable () async throws -> SNSEndpointRegistry)? = nil) {
        self.service = service
        self.pendingPushSetup = pendingPushSetup
    }

    static func locale(_ section: ConfigurationSection) throws -> String {
        let locale = try section.string("locale", default: "pt-BR")
        guard NotificationPreferences.supportedLocales.contains(locale) else {
            throw ConfigurationError(key: "notifications.locale", value: locale, reason: "expected one of \(NotificationPreferences.supportedLocales.joined(separator: ", "))")
        }
        return locale
    }

    public func prepare() async throws {
        try await service.prepare()
        if let pendingPushSetup {
            do { _ = try await pendingPushSetup() } catch {
                service.logger.warning("push platform applications not created: \(error)")
            }
        }
    }

    public func addRoutes(to router: Router<AppRequestContext>) {
        NotificationRoutes.register(on: router, service: service)
    }

    public static var workers: [WorkerDefinition<NotificationsModule>] {
        var workers: [WorkerDefinition<NotificationsModule>] = [
            // Domain events → feed entries and send requests (once each, through the inbox); waiting
            // sends (quiet hours, SMS fallbacks) released when due; a deleted account's data erased.
            .consumer("notifications", summary: "decides who hears of offers, job changes, chat messages and account events, and how") { module in
                var planner = ConsumerWorker(topics: [.offers, .jobs, .chatMessages, .users, .auth, .payments], group: "notifications-planner", fetchWaitMaxMillis: 20, chores: [
                    PeriodicChore("releasing waiting notifications", every: .seconds(1)) { try await module.service.releaseDueSends() },
                ]) { [inbox = module.service.plannerInbox] event in
                    if event.type == IdentityEvents.userDeleted {
                        try await module.service.erase(userID: try event.decode(IdentityEvents.UserDeleted.self).userId)
                    } else {
                        try await module.service.plan(event, inbox: inbox)
                    }
                }
                // Each event costs several round trips (contact, preferences, presence, then a
                // transaction): one at a time, the group fell behind at 0.5 flows/s in the soak.
                planner.partitionConcurrency = 8
                return planner
            },
        ]
        // One sender per channel, each its own consumer group: a slow channel holds no other.
        for channel in NotificationChannel.sent {
            workers.append(.consumer("notifications-\(channel.rawValue)", summary: "sends \(channel.rawValue) notifications") { module in
                ConsumerWorker(topics: [.notifications], group: "notifications-\(channel.rawValue)", fetchWaitMaxMillis: 20) { event in
                    try await module.service.deliver(event, channel: channel)
                }
            })
        }
        return workers
    }
}

extension NotificationService {
    /// The planner's inbox (`inbox_notifications-planner`).
    public var plannerInbox: Inbox { Inbox(mongo: mongo, consumer: "notifications-planner") }
}

/// The push registry once it exists: in development the platform applications are created at
/// prepare, after the service was built.
final class LazyPushRegistry: PushEndpointRegistry, @unchecked Sendable {
    private let lock = NSLock()
    private var registry: SNSEndpointRegistry?

    init(_ registry: SNSEndpointRegistry?) { self.registry = registry }

    func set(_ registry: SNSEndpointRegistry) { lock.withLock { self.registry = registry } }

    private var current: SNSEndpointRegistry {
        get throws {
            guard let registry = lock.withLock({ registry }) else {
                throw DomainError(kind: .unavailable, code: "push_unavailable", title: "Push notifications are not ready", retryAfter: 5)
            }
            return registry
        }
    }

    func register(platform: Device.Platform, token: String, userID: String) async throws -> String {
        try await current.register(platform: platform, token: token, userID: userID)
    }

    func unregister(endpoint: String) async throws { try await current.unregister(endpoint: endpoint) }
}
