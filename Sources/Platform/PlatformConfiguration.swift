import Configuration
import Foundation
import Logging
import MarketplaceKafka
import MarketplaceMongo
import MarketplaceRedis

/// Everything a process needs to reach its servers. Read from environment variables
/// (`KAFKA_BROKERS`, `MONGO_URI`, ...) over an optional JSON file (`MARKETPLACE_CONFIG_FILE`,
/// keys like `kafka.brokers`), over defaults that point at the local stack. Each module reads its
/// own section (`realtime.port`, `identity.login.failure.limit`) from `reader` through
/// `ModuleContext.configuration`.
public struct PlatformConfiguration: Sendable {
    /// The sources every key is read from; modules read their sections from it.
    public var reader: ConfigReader = ConfigReader(provider: InMemoryProvider(values: [:]))
    public var kafkaBrokers: String
    public var kafkaTopicPrefix: String
    /// librdkafka debug contexts (e.g. "metadata,cgrp") for diagnosis; empty: off.
    public var kafkaDebug: String = ""
    /// Overrides every consumer's `fetch.wait.max.ms` (each worker picks its own otherwise). A
    /// broker on object storage (Tansu on s3://, the durable stack) answers nothing below ~500.
    public var kafkaFetchWaitMaxMillis: Int?
    /// The idempotent producer (on by default). Off only for a broker whose producer state is not
    /// safe under concurrent writes (Tansu on s3://, the durable stack: "out of order sequence
    /// number" is fatal); delivery stays at-least-once and every consumer deduplicates by event id.
    public var kafkaIdempotentProducer = true
    public var mongoURI: String
    public var mongoDatabase: String
    public var mongoPoolSize: Int
    public var redisHost: String
    public var redisPort: Int
    public var redisPoolSize: Int
    public var httpHost: String
    public var httpPort: Int
    public var logLevel: Logger.Level
    /// `production` makes missing secrets (the signing keys' key-encryption key) a start-up
    /// error instead of a warning (`marketplace.mode`, `MARKETPLACE_MODE`).
    public var mode: Mode = .development

    public enum Mode: String, Sendable, CaseIterable { case development, production }

    public init(kafkaBrokers: String = "127.0.0.1:9092", kafkaTopicPrefix: String = "",
                mongoURI: String = MongoConfiguration().uri, mongoDatabase: String = "marketplace", mongoPoolSize: Int = 8,
                redisHost: String = "127.0.0.1", redisPort: Int = 6379, redisPoolSize: Int = 8,
                httpHost: String = "127.0.0.1", httpPort: Int = 8080, logLevel: Logger.Level = .info) {
        self.kafkaBrokers = kafkaBrokers
        self.kafkaTopicPrefix = kafkaTopicPrefix
        self.mongoURI = mongoURI
        self.mongoDatabase = mongoDatabase
        self.mongoPoolSize = mongoPoolSize
        self.redisHost = redisHost
        self.redisPort = redisPort
        self.redisPoolSize = redisPoolSize
        self.httpHost = httpHost
        self.httpPort = httpPort
        self.logLevel = logLevel
    }

    public var kafkaClient: KafkaClientConfiguration {
        var properties: [String: String] = [:]
        if !kafkaDebug.isEmpty { properties["debug"] = kafkaDebug }
        return KafkaClientConfiguration(bootstrapServers: kafkaBrokers, statisticsIntervalMillis: 10_000, properties: properties,
                                        consumerFetchWaitMaxMillis: kafkaFetchWaitMaxMillis)
    }

    public var mongo: MongoConfiguration {
        MongoConfiguration(uri: mongoURI, database: mongoDatabase, poolSize: mongoPoolSize)
    }

    public var redis: RedisConfiguration {
        RedisConfiguration(host: redisHost, port: redisPort, poolSize: redisPoolSize)
    }
}

/// A configuration value that cannot be used; names the key and the environment variable.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public init(key: String, value: String, reason: String) {
        self.key = key
        self.value = value
        self.reason = reason
    }

    public var key: String
    public var value: String
    public var reason: String

    public var environmentVariable: String { key.uppercased().replacingOccurrences(of: ".", with: "_") }

    public var description: String {
        "invalid configuration \(key) (\(environmentVariable)) = '\(Self.redacted(key: key, value))': \(reason)"
    }

    /// What an error may show of a value: nothing of a secret, no credentials of a URI.
    static func redacted(key: String, _ value: String) -> String {
        let words = key.lowercased().split(separator: ".")
        if words.contains(where: { ["password", "secret", "token", "kek", "credentials", "key"].contains($0) }) { return "<redacted>" }
        if let scheme = value.range(of: "://"), let at = value.range(of: "@", range: scheme.upperBound..<value.endIndex) {
            return value.replacingCharacters(in: scheme.upperBound..<at.lowerBound, with: "<redacted>")
        }
        return value
    }
}

extension PlatformConfiguration {
    /// Loads and validates; throws `ConfigurationError` for the first bad value.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) async throws -> PlatformConfiguration {
        var providers: [any ConfigProvider] = [EnvironmentVariablesProvider(environmentVariables: environment)]
        if let path = environment["MARKETPLACE_CONFIG_FILE"], !path.isEmpty {
            guard FileManager.default.fileExists(atPath: path) else {
                throw ConfigurationError(key: "marketplace.config.file", value: path, reason: "file does not exist")
            }
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: .init(path)))
            } catch {
                throw ConfigurationError(key: "marketplace.config.file", value: path, reason: "not valid JSON: \(error)")
            }
        }
        return try PlatformConfiguration(reader: ConfigReader(providers: providers))
    }

    public init(reader: ConfigReader) throws {
        let defaults = PlatformConfiguration()
        self.reader = reader
        let section = ConfigurationSection(reader: reader)
        func string(_ key: String, _ fallback: String) throws -> String { try section.string(key, default: fallback) }
        func integer(_ key: String, _ fallback: Int, in range: ClosedRange<Int>) throws -> Int { try section.integer(key, default: fallback, in: range) }

        kafkaBrokers = try string("kafka.brokers", defaults.kafkaBrokers)
        for broker in kafkaBrokers.split(separator: ",") {
            let parts = broker.split(separator: ":")
            guard parts.count == 2, let port = Int(parts[1]), (1...65535).contains(port) else {
                throw ConfigurationError(key: "kafka.brokers", value: kafkaBrokers, reason: "expected host:port[,host:port...]")
            }
        }
        kafkaTopicPrefix = reader.string(forKey: "kafka.topic.prefix") ?? ""
        kafkaDebug = reader.string(forKey: "kafka.debug") ?? ""
        let idempotence = try string("kafka.producer.idempotence", "true")
        guard let idempotent = Bool(idempotence) else {
            throw ConfigurationError(key: "kafka.producer.idempotence", value: idempotence, reason: "expected true or false")
        }
        kafkaIdempotentProducer = idempotent
        if reader.string(forKey: "kafka.fetch.wait.max.ms") != nil {
            kafkaFetchWaitMaxMillis = try integer("kafka.fetch.wait.max.ms", 100, in: 1...300_000)
        }
        mongoURI = try string("mongo.uri", defaults.mongoURI)
        guard mongoURI.hasPrefix("mongodb://") || mongoURI.hasPrefix("mongodb+srv://") else {
            throw ConfigurationError(key: "mongo.uri", value: mongoURI, reason: "expected a mongodb:// URI")
        }
        mongoDatabase = try string("mongo.database", defaults.mongoDatabase)
        mongoPoolSize = try integer("mongo.pool.size", defaults.mongoPoolSize, in: 1...256)
        redisHost = try string("redis.host", defaults.redisHost)
        redisPort = try integer("redis.port", defaults.redisPort, in: 1...65535)
        redisPoolSize = try integer("redis.pool.size", defaults.redisPoolSize, in: 1...256)
        httpHost = try string("http.host", defaults.httpHost)
        httpPort = try integer("http.port", defaults.httpPort, in: 0...65535)
        let level = try string("log.level", "info")
        guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
            throw ConfigurationError(key: "log.level", value: level, reason: "expected one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        logLevel = parsed
        let modeText = try string("marketplace.mode", Mode.development.rawValue)
        guard let parsedMode = Mode(rawValue: modeText) else {
            throw ConfigurationError(key: "marketplace.mode", value: modeText, reason: "expected development or production")
        }
        mode = parsedMode
    }
}
