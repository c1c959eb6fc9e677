import Foundation
import Logging
import MarketplaceKafka
import MarketplaceMessaging
import MarketplaceMongo
import MarketplaceRedis
import ServiceLifecycle

/// The connections one process shares between its services. Created once at start-up; closed
/// last at shutdown (after the services stopped), flushing the producer.
public final class Platform: Sendable {
    public let configuration: PlatformConfiguration
    public let logger: Logger
    public let producer: KafkaProducer
    public let admin: KafkaAdmin
    public let mongo: MongoClient
    public let redis: RedisClient
    /// This environment's topic names (`kafka.topic.prefix`).
    public let topics: TopicNames

    public init(configuration: PlatformConfiguration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: configuration.kafkaClient, idempotent: configuration.kafkaIdempotentProducer),
                                     logger: logger.with(label: "kafka.producer"))
        admin = try KafkaAdmin(configuration: configuration.kafkaClient, timeout: .seconds(5))
        mongo = try MongoClient(configuration: configuration.mongo)
        redis = RedisClient(configuration: configuration.redis, logger: logger.with(label: "redis"))
        topics = TopicNames(prefix: configuration.kafkaTopicPrefix)
    }

    /// The dependencies `/health/ready` checks.
    public var readinessChecks: [ReadinessCheck] {
        [
            ReadinessCheck(name: "kafka") { [admin] in _ = try await admin.listTopics() },
            ReadinessCheck(name: "mongodb") { [mongo] in try await mongo.ping() },
            ReadinessCheck(name: "redis") { [redis] in _ = try await redis.ping() },
        ]
    }

    public func close() async {
        await producer.close()
        await mongo.shutdown()
        await redis.shutdown()
    }
}

extension Logger {
    /// A logger with another label and this one's level.
    public func with(label: String) -> Logger {
        var copy = Logger(label: label)
        copy.logLevel = logLevel
        return copy
    }
}

/// Keeps the platform's connections open while the other services run and closes them when the
/// service group shuts down. Listed first in the group, so it is stopped last.
public struct PlatformLifetime: Service {
    public let platform: Platform
    public init(platform: Platform) { self.platform = platform }

    public func run() async throws {
        // Returns normally at shutdown: a CancellationError escaping would count as a failure.
        try? await gracefulShutdown()
        await platform.close()
    }
}
