import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MarketplaceKafka
import MarketplacePlatform
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test("defaults point at the local stack")
    func defaults() async throws {
        let configuration = try await PlatformConfiguration.load(environment: [:])
        #expect(configuration.kafkaBrokers == "127.0.0.1:9092")
        #expect(configuration.redisPort == 6379)
        #expect(configuration.mongoURI.hasPrefix("mongodb://127.0.0.1:27017"))
    }

    @Test("environment variables override defaults")
    func environment() async throws {
        let configuration = try await PlatformConfiguration.load(environment: ["KAFKA_BROKERS": "k1:9093,k2:9093", "REDIS_PORT": "6380", "LOG_LEVEL": "debug"])
        #expect(configuration.kafkaBrokers == "k1:9093,k2:9093")
        #expect(configuration.redisPort == 6380)
        #expect(configuration.logLevel == .debug)
    }

    @Test("a JSON file is read under the environment", .enabled(if: true))
    func file() async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID()).json").path
        try #"{"mongo": {"database": "fromfile"}, "http": {"port": 9999}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let configuration = try await PlatformConfiguration.load(environment: ["MARKETPLACE_CONFIG_FILE": path, "HTTP_PORT": "7000"])
        #expect(configuration.mongoDatabase == "fromfile")
        #expect(configuration.httpPort == 7000, "the environment wins over the file")
    }

    @Test("bad values fail with the key named", arguments: [
        (["HTTP_PORT": "eighty"], "http.port"),
        (["REDIS_PORT": "70000"], "redis.port"),
        (["KAFKA_BROKERS": "localhost"], "kafka.brokers"),
        (["MONGO_URI": "postgres://x"], "mongo.uri"),
        (["LOG_LEVEL": "loud"], "log.level"),
        (["MONGO_POOL_SIZE": "0"], "mongo.pool.size"),
        (["MARKETPLACE_CONFIG_FILE": "/nonexistent/marketplace.json"], "marketplace.config.file"),
    ])
    func badValues(environment: [String: String], key: String) async throws {
        do {
            _ = try await PlatformConfiguration.load(environment: environment)
            Issue.record("\(environment) should be refused")
        } catch let error as ConfigurationError {
            #expect(error.key == key)
            #expect(error.description.contains(key) && error.description.contains(error.environmentVariable))
        }
    }
}

@Suite("Topics as code", .timeLimit(.minutes(2)))
struct TopicTests {
    static let repositoryTopics = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("topics").path

    @Test("the repository's topic definitions are valid and cover the platform")
    func repositoryCatalog() throws {
        let catalog = try TopicCatalog.load(directory: Self.repositoryTopics)
        let names = Set(catalog.topics.map(\.name))
        for required in ["marketplace.users.v1", "marketplace.service-requests.v1", "marketplace.jobs.v1", "marketplace.offers.v1",
                         "marketplace.provider-locations.v1", "marketplace.chat-messages.v1", "marketplace.payments.v1",
                         "marketplace.notifications.v1", "marketplace.realtime-publications.v1", "marketplace.analytics.v1",
                         "marketplace.dead-letter.v1"] {
            #expect(names.contains(required), "missing \(required)")
        }
        let users = try #require(catalog.topic("marketplace.users.v1"))
        #expect(users.retentionMillis == Int64(30) * 86_400_000)
        #expect(users.configs == ["retention.ms": "2592000000", "cleanup.policy": "delete"])
        #expect(catalog.topics.allSatisfy { !$0.eventTypes.isEmpty && !$0.consumers.isEmpty })
    }

    @Test("an invalid definition is refused naming the file")
    func invalidDefinition() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try "name: bad topic\npartitions: 0\nkey: x\nretention: 1w\ncleanupPolicy: delete\neventTypes: []\nproducers: [a]\nconsumers: []\n"
            .write(to: directory.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        #expect(throws: TopicCatalog.Error.invalid(file: "bad.yaml", reason: "invalid topic name 'bad topic'")) {
            try TopicCatalog.load(directory: directory.path)
        }
    }

    @Test("topics apply creates what is missing, grows partitions, and is idempotent")
    func applyIsIdempotent() async throws {
        let catalog = try TopicCatalog.load(directory: Self.repositoryTopics)
        let admin = try KafkaAdmin(configuration: TestServers.kafkaClient)
        let prefix = TestServers.unique("apply") + "."
        let reconciler = TopicReconciler(admin: admin, prefix: prefix)
        defer { Task { for topic in catalog.topics { try? await admin.deleteTopic(prefix + topic.name) } } }

        let first = try await reconciler.apply(catalog)
        #expect(first.allSatisfy { if case .created = $0 { true } else { false } })
        let second = try await reconciler.apply(catalog)
        #expect(second.allSatisfy { if case .unchanged = $0 { true } else { false } })

        var grown = catalog
        grown.topics[0].partitions += 2
        let name = prefix + grown.topics[0].name
        let (declared, grownTo) = (catalog.topics[0].partitions, grown.topics[0].partitions)
        let third = try await reconciler.apply(grown)
        let listed = try await admin.listTopics().first { $0.name == name }?.partitions
        switch third.first {
        case .grown(name, declared, grownTo)?:
            // Apache Kafka: the topic grew, and going back is refused.
            #expect(listed == grownTo)
            #expect(try await reconciler.apply(catalog).first == .cannotShrink(name, actual: grownTo, declared: declared))
        case .growFailed(name, declared, grownTo, let reason)?:
            // Tansu has no CreatePartitions: reported, and the topic is left as it was.
            #expect(reason.contains("CreatePartitions"))
            #expect(listed == declared)
        default:
            Issue.record("unexpected change \(String(describing: third.first))")
        }
        #expect(third.dropFirst().allSatisfy { if case .unchanged = $0 { true } else { false } })
        for topic in catalog.topics { try? await admin.deleteTopic(prefix + topic.name) }
    }
}

@Suite("Health endpoints", .timeLimit(.minutes(2)))
struct HealthTests {
    func app(_ configuration: PlatformConfiguration) throws -> (some ApplicationProtocol, Platform) {
        let platform = try Platform(configuration: configuration, logger: Logger(label: "test"))
        // A process without modules: health and metrics are the platform's own.
        return (Application(router: try Composition(platform: platform, built: [], ports: Ports()).makeRouter(api: false)), platform)
    }

    @Test("live always; ready when Kafka, MongoDB and Redis answer; metrics in Prometheus format")
    func readyWithRealServers() async throws {
        var configuration = PlatformConfiguration()
        configuration.kafkaBrokers = TestServers.kafkaBrokers
        configuration.mongoURI = TestServers.mongoURI
        configuration.redisPort = TestServers.redisPort
        let (app, platform) = try app(configuration)
        try await app.test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .ok)
                let body = String(buffer: response.body)
                #expect(body.contains(#""kafka":"ok""#) && body.contains(#""mongodb":"ok""#) && body.contains(#""redis":"ok""#))
            }
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain") == true)
            }
        }
        await platform.close()
    }

    @Test("readiness answers within its timeout when MongoDB accepts connections but never replies")
    func readinessIsBoundedWhenAServerHangs() async throws {
        // A listening socket nobody accepts from: the kernel completes the handshake and the
        // driver waits for a hello reply (a stopped or overloaded server). libmongoc's ping then
        // blocks for the server selection timeout (30 s here) and does not notice cancellation.
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(listener >= 0)
        var address = sockaddr_in(sin_family: sa_family_t(AF_INET), sin_port: 0, sin_addr: in_addr(s_addr: inet_addr("127.0.0.1")), sin_zero: (0, 0, 0, 0, 0, 0, 0, 0))
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, length) == 0 && listen(listener, 16) == 0 && getsockname(listener, $0, &length) == 0 }
        }
        #expect(bound)
        let port = UInt16(bigEndian: address.sin_port)

        var configuration = PlatformConfiguration()
        configuration.kafkaBrokers = TestServers.kafkaBrokers
        configuration.mongoURI = "mongodb://127.0.0.1:\(port)/?connectTimeoutMS=30000&socketTimeoutMS=30000&serverSelectionTimeoutMS=30000"
        configuration.redisPort = TestServers.redisPort
        let (app, platform) = try app(configuration)
        try await app.test(.router) { client in
            let started = ContinuousClock.now
            try await client.execute(uri: "/health/ready", method: .get) { response in
                let elapsed = ContinuousClock.now - started
                #expect(response.status == .serviceUnavailable)
                let body = String(buffer: response.body)
                #expect(body.contains(#""mongodb":"timed out"#), "\(body)")
                #expect(body.contains(#""redis":"ok""#))
                // The 1 s timeout plus scheduling, against the 30 s the ping waits. The margin is
                // wide because the whole suite on 2 cores (dozens of platforms' thread pools
                // hashing passwords and polling) held the 1 s timer's resumption back 5-9 s.
                #expect(elapsed < .seconds(20), "answered after \(elapsed)")
            }
        }
        close(listener)  // (the platform then waits for the ping to give up before it closes)
        await platform.close()
    }

    @Test("not ready, naming the dependency, when Redis does not answer")
    func notReadyWithoutRedis() async throws {
        var configuration = PlatformConfiguration()
        configuration.kafkaBrokers = TestServers.kafkaBrokers
        configuration.mongoURI = TestServers.mongoURI
        configuration.redisPort = 1
        let (app, platform) = try app(configuration)
        try await app.test(.router) { client in
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let body = String(buffer: response.body)
                #expect(body.contains(#""status":"unavailable""#))
                #expect(body.contains(#""kafka":"ok""#) && !body.contains(#""redis":"ok""#))
            }
        }
        await platform.close()
    }
}
