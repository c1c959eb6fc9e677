import Foundation
import MarketplaceAWS
import MarketplaceKafka
import MarketplaceMongo
import MarketplacePlatform
import MarketplaceRedis
import Testing

/// Where the real servers of the local stack answer (scripts/stack.sh); overridable like the
/// platform's own configuration.
enum TestServers {
    static let environment = ProcessInfo.processInfo.environment
    static let kafkaBrokers = environment["KAFKA_BROKERS"] ?? "127.0.0.1:9092"
    static let mongoURI = environment["MONGO_URI"] ?? MongoConfiguration().uri
    static let redisHost = environment["REDIS_HOST"] ?? "127.0.0.1"
    static let redisPort = Int(environment["REDIS_PORT"] ?? "") ?? 6379

    /// moto's server (scripts/stack.sh `aws`).
    static let awsEndpoint = URL(string: environment["AWS_ENDPOINT"] ?? "http://127.0.0.1:5055")!
    static let stripeURL = environment["STRIPE_BASE_URL"] ?? "http://127.0.0.1:8420"

    static func s3(bucket: String) -> S3Configuration {
        S3Configuration(endpoint: awsEndpoint, bucket: bucket, region: "us-east-1",
                        credentials: AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing"))
    }

    static var kafkaClient: KafkaClientConfiguration {
        KafkaClientConfiguration(bootstrapServers: kafkaBrokers, clientID: "marketplace-tests")
    }

    static func unique(_ prefix: String) -> String {
        "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// A fresh topic for one test (Tansu slows down on long-lived partitions), deleted afterwards.
    static func withTopic<T>(partitions: Int = 1, _ body: (String) async throws -> T) async throws -> T {
        let admin = try KafkaAdmin(configuration: kafkaClient)
        let name = unique("test")
        try await admin.ensureTopic(name, partitions: partitions)
        do {
            let result = try await body(name)
            try? await admin.deleteTopic(name)
            return result
        } catch {
            try? await admin.deleteTopic(name)
            throw error
        }
    }

    static func producer() throws -> KafkaProducer {
        try KafkaProducer(configuration: KafkaProducerConfiguration(client: kafkaClient, lingerMillis: 1))
    }

    static func consumer(topic: String, group: String, maxBuffered: Int = 10_000) throws -> KafkaConsumer {
        try KafkaConsumer(configuration: KafkaConsumerConfiguration(
            client: kafkaClient, groupID: group, topics: [topic], commitIntervalMillis: 200,
            fetchWaitMaxMillis: 50, maxBufferedRecords: maxBuffered))
    }

    /// A database of its own for one test.
    /// The platform's configuration pointed at these servers, with a database of its own.
    static func platformConfiguration(database: String) -> PlatformConfiguration {
        var configuration = PlatformConfiguration()
        configuration.kafkaBrokers = kafkaBrokers
        configuration.mongoURI = mongoURI
        configuration.mongoDatabase = unique(database)
        configuration.redisHost = redisHost
        configuration.redisPort = redisPort
        return configuration
    }

    static func mongo() throws -> MongoClient {
        try MongoClient(configuration: MongoConfiguration(uri: mongoURI, database: unique("test"), poolSize: 8))
    }

    static func redis(port: Int = redisPort) -> RedisClient {
        RedisClient(configuration: RedisConfiguration(host: redisHost, port: port, poolSize: 4, timeout: .seconds(2)))
    }
}

extension AsyncSequence where Self: Sendable {
    /// Collects `count` elements, failing after `timeout`.
    func collect(_ count: Int, timeout: Duration = .seconds(60)) async throws -> [Element] where Element: Sendable {
        try await withThrowingTaskGroup(of: [Element]?.self) { group in
            group.addTask {
                var items: [Element] = []
                for try await item in self {
                    items.append(item)
                    if items.count == count { break }
                }
                return items
            }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            let first = try await group.next()!
            group.cancelAll()
            guard let items = first else { throw TestTimeout(expected: count) }
            return items
        }
    }
}

struct TestTimeout: Error, CustomStringConvertible {
    let expected: Int
    var description: String { "timed out waiting for \(expected) elements" }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return false
}
