import MarketplaceContracts

/// The one place where a logical topic becomes the broker's topic name: the environment's
/// `kafka.topic.prefix` (test runs and environments sharing a broker) is prepended here, for
/// producers, the outbox relay, consumers and dead letters alike. Consumer groups carry it too,
/// so environments never share a group.
public struct TopicNames: Sendable, Hashable {
    public let prefix: String

    public init(prefix: String = "") { self.prefix = prefix }

    /// The broker's name for `topic`.
    public func name(_ topic: Topic) -> String { prefix + topic.rawValue }

    /// The broker's names for `topics`, in order.
    public func names(_ topics: [Topic]) -> [String] { topics.map(name) }

    /// A consumer group of this environment.
    public func group(_ name: String) -> String { prefix + name }

    /// The logical topic of a broker topic name, when it is one of this environment's.
    public func topic(named name: String) -> Topic? {
        guard name.hasPrefix(prefix) else { return nil }
        return Topic(rawValue: String(name.dropFirst(prefix.count)))
    }
}
