import Foundation
import MarketplaceKafka
import Yams

/// One topic as declared in topics/*.yaml.
public struct TopicDefinition: Codable, Sendable, Equatable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int?
    /// What the record key is (documentation and review: the aggregate id that keeps order).
    public var key: String
    /// e.g. "7d", "24h", "30m", "-1" (forever).
    public var retention: String
    /// "delete" or "compact".
    public var cleanupPolicy: String
    public var eventTypes: [String]
    public var producers: [String]
    public var consumers: [String]
    public var description: String?

    public var retentionMillis: Int64? { Self.parseDuration(retention) }

    /// Broker configs derived from the definition.
    public var configs: [String: String] {
        ["retention.ms": String(retentionMillis ?? -1), "cleanup.policy": cleanupPolicy]
    }

    static func parseDuration(_ text: String) -> Int64? {
        if text == "-1" { return -1 }
        let units: [Character: Int64] = ["s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000]
        guard let unit = text.last, let factor = units[unit], let amount = Int64(text.dropLast()), amount > 0 else { return nil }
        return amount * factor
    }

    func validate(file: String) throws {
        func fail(_ reason: String) -> TopicCatalog.Error { .invalid(file: file, reason: reason) }
        guard name.range(of: "^[a-zA-Z0-9._-]{1,249}$", options: .regularExpression) != nil else { throw fail("invalid topic name '\(name)'") }
        guard (1...1000).contains(partitions) else { throw fail("partitions must be 1...1000") }
        guard retentionMillis != nil else { throw fail("retention '\(retention)' is not like 7d, 24h, 30m or -1") }
        guard ["delete", "compact", "compact,delete"].contains(cleanupPolicy) else { throw fail("cleanupPolicy must be delete or compact") }
        guard !producers.isEmpty else { throw fail("a topic needs at least one producer") }
    }
}

/// The topics of the platform, loaded from a folder of YAML files.
public struct TopicCatalog: Sendable {
    public enum Error: Swift.Error, CustomStringConvertible, Equatable {
        case invalid(file: String, reason: String)
        case duplicate(String)
        public var description: String {
            switch self {
            case .invalid(let file, let reason): "\(file): \(reason)"
            case .duplicate(let name): "topic \(name) is declared twice"
            }
        }
    }

    public var topics: [TopicDefinition]

    public init(topics: [TopicDefinition]) { self.topics = topics }

    public static func load(directory: String) throws -> TopicCatalog {
        let url = URL(fileURLWithPath: directory)
        let files = try FileManager.default.contentsOfDirectory(at: url, includingPropertiesForKeys: nil)
            .filter { ["yaml", "yml"].contains($0.pathExtension) }
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        var topics: [TopicDefinition] = []
        for file in files {
            let text = try String(contentsOf: file, encoding: .utf8)
            let definition: TopicDefinition
            do { definition = try YAMLDecoder().decode(TopicDefinition.self, from: text) }
            catch { throw Error.invalid(file: file.lastPathComponent, reason: "\(error)") }
            try definition.validate(file: file.lastPathComponent)
            guard !topics.contains(where: { $0.name == definition.name }) else { throw Error.duplicate(definition.name) }
            topics.append(definition)
        }
        return TopicCatalog(topics: topics)
    }

    public func topic(_ name: String) -> TopicDefinition? { topics.first { $0.name == name } }
}

/// Makes the broker match the catalog: creates missing topics, grows partitions. It never deletes
/// a topic or shrinks one (Kafka cannot), and says so instead.
public struct TopicReconciler: Sendable {
    public enum Change: Sendable, Equatable, CustomStringConvertible {
        case created(String, partitions: Int)
        case grown(String, from: Int, to: Int)
        case unchanged(String)
        case cannotShrink(String, actual: Int, declared: Int)
        /// The broker refused to add partitions (Tansu does not implement CreatePartitions).
        case growFailed(String, from: Int, to: Int, reason: String)

        public var description: String {
            switch self {
            case .created(let name, let partitions): "created   \(name) (\(partitions) partitions)"
            case .grown(let name, let from, let to): "grown     \(name) \(from) -> \(to) partitions"
            case .unchanged(let name): "unchanged \(name)"
            case .cannotShrink(let name, let actual, let declared): "WARNING   \(name) has \(actual) partitions, declared \(declared): Kafka cannot shrink a topic"
            case .growFailed(let name, let from, let to, let reason): "WARNING   \(name) could not grow \(from) -> \(to) partitions: \(reason)"
            }
        }
    }

    public let admin: KafkaAdmin
    /// Prepended to every name (isolates test runs and environments on a shared broker).
    public let prefix: String

    public init(admin: KafkaAdmin, prefix: String = "") {
        self.admin = admin
        self.prefix = prefix
    }

    public func apply(_ catalog: TopicCatalog) async throws -> [Change] {
        let existing = Dictionary(uniqueKeysWithValues: try await admin.listTopics().map { ($0.name, $0.partitions) })
        var changes: [Change] = []
        for topic in catalog.topics {
            let name = prefix + topic.name
            switch existing[name] {
            case nil:
                do {
                    try await admin.createTopic(name, partitions: topic.partitions, replicationFactor: topic.replicationFactor ?? 1, configs: topic.configs)
                    changes.append(.created(name, partitions: topic.partitions))
                } catch let error as KafkaError where error.isTopicAlreadyExists {
                    changes.append(.unchanged(name))  // created concurrently by another instance
                }
            case let actual? where actual < topic.partitions:
                do {
                    try await admin.createPartitions(name, totalPartitions: topic.partitions)
                    changes.append(.grown(name, from: actual, to: topic.partitions))
                } catch let error as KafkaError {
                    changes.append(.growFailed(name, from: actual, to: topic.partitions, reason: error.description))
                }
            case let actual? where actual > topic.partitions:
                changes.append(.cannotShrink(name, actual: actual, declared: topic.partitions))
            default:
                changes.append(.unchanged(name))
            }
        }
        return changes
    }
}
