import Foundation
import Hummingbird
import MarketplaceAWS
import MarketplaceContracts
import MarketplaceMessaging
import MarketplaceHTTP
import MarketplacePlatform

/// Chat on the platform's seam: job conversations over REST, delivered live through the
/// realtime gateway (each `chat.*` event's `chat:<jobId>` and `user:<id>` publications go to the
/// fan-out topic through the outbox, in the event's transaction). Needs Dispatch's
/// `JobAccessDirectory` and Realtime's `RealtimeFanOut` as ports; reads no other module's data.
///
/// Configuration (`chat.*`): `followup.window` seconds after completion (172800 = 48 h),
/// `retention.days` (180), `messages.per.second` (5), `messages.burst` (5), `text.max` (4000),
/// `bucket` (marketplace-chat), `bucket.create` (true in development: creates it on start).
/// Object storage (`aws.*`, shared with every AWS adapter): `endpoint` (http://127.0.0.1:5055,
/// moto, in development; the region's S3 endpoint in production), `region` (us-east-1),
/// `access.key.id` and `secret.access.key` (required in production).
public struct ChatModule: ServiceModule {
    public static let name = "chat"
    public static var openAPI: OpenAPIFragment { ChatOpenAPI.fragment }

    public let service: ChatService
    public let s3: S3Client
    let createBucket: Bool

    public init(context: ModuleContext) async throws {
        let section = context.configuration
        let s3 = S3Client(configuration: S3Configuration(aws: try context.aws, bucket: try section.string("bucket", default: "marketplace-chat")))
        let policy = try ChatPolicy(section: section)
        let service = ChatService(mongo: context.mongo, jobs: try context.ports.require((any JobAccessDirectory).self, by: Self.name),
                                  fanOut: try context.ports.require((any RealtimeFanOut).self, by: Self.name),
                                  store: S3AttachmentStore(s3: s3),
                                  rateLimiter: MessageRateLimiter(redis: context.redis, rate: policy.messagesPerSecond, burst: policy.messageBurst),
                                  policy: policy, logger: context.logger)
        let create = try section.string("bucket.create", default: context.platform.configuration.mode == .production ? "false" : "true") == "true"
        self.init(service: service, s3: s3, createBucket: create)
    }

    /// A module over a service built by the caller (tests choose the policy and the storage).
    public init(service: ChatService, s3: S3Client, createBucket: Bool = true) {
        self.service = service
        self.s3 = s3
        self.createBucket = createBucket
    }

    public func prepare() async throws {
        try await service.prepare()
        if createBucket {
            do {
                try await s3.ensureBucket()
            } catch {
                // Chat without attachments still works; readiness reports the storage.
                service.logger.warning("chat bucket not created: \(error)", metadata: ["bucket": "\(s3.configuration.bucket)"])
            }
        }
    }

    public func addRoutes(to router: Router<AppRequestContext>) {
        ChatRoutes.register(on: router, service: service)
    }

    public var readinessChecks: [ReadinessCheck] {
        [ReadinessCheck(name: "chat-storage") { [s3] in _ = try await s3.bucketExists() }]
    }
}

extension ChatPolicy {
    /// Reads the `chat.*` section; defaults where a key is unset.
    public init(section: ConfigurationSection) throws {
        let defaults = Self()
        self.init(followUpWindow: try section.seconds("followup.window", default: defaults.followUpWindow, in: 0...(90 * 86_400)),
                  retention: try section.number("retention.days", default: defaults.retention / 86_400, in: 1...3_650) * 86_400,
                  maxTextLength: try section.integer("text.max", default: defaults.maxTextLength, in: 1...100_000),
                  messagesPerSecond: try section.number("messages.per.second", default: defaults.messagesPerSecond, in: 0.1...1_000),
                  messageBurst: try section.number("messages.burst", default: defaults.messageBurst, in: 1...10_000))
    }
}
