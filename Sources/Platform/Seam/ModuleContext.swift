import Configuration
import Logging
import MarketplaceContracts
import MarketplaceKafka
import MarketplaceMessaging
import MarketplaceMongo
import MarketplaceRedis

/// What a module is built with: the process's shared connections, its own configuration
/// section, this environment's topic names, and the ports other modules provide.
public struct ModuleContext: Sendable {
    public let platform: Platform
    /// The module's section (`<name>.*`).
    public let configuration: ConfigurationSection
    public let ports: Ports
    public let logger: Logger

    public init(platform: Platform, module name: String, ports: Ports) {
        self.platform = platform
        configuration = ConfigurationSection(reader: platform.configuration.reader, name: name)
        self.ports = ports
        logger = platform.logger.with(label: "marketplace.\(name)")
    }

    public var mongo: MongoClient { platform.mongo }
    public var redis: RedisClient { platform.redis }
    public var producer: KafkaProducer { platform.producer }
    public var kafka: KafkaClientConfiguration { platform.configuration.kafkaClient }
    /// Logical topics to this environment's names (the prefix is applied there, only there).
    public var topics: TopicNames { platform.topics }
    /// Publishes straight to Kafka on this environment's topics.
    public var events: KafkaEventPublisher { KafkaEventPublisher(producer: platform.producer, topics: platform.topics) }

    /// The shared `aws.*` settings (region, credentials, endpoint) for the module's AWS clients.
    public var aws: AWSSettings {
        get throws {
            try AWSSettings(section: ConfigurationSection(reader: platform.configuration.reader, name: "aws"),
                            production: platform.configuration.mode == .production)
        }
    }

    /// A logger for one part of the module ("dispatch.worker").
    public func logger(_ label: String) -> Logger { platform.logger.with(label: label) }
}
