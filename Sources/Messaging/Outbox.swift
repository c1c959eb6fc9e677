import Foundation
import Logging
import MarketplaceContracts
import MarketplaceKafka
import MarketplaceMongo
import Metrics
import ServiceLifecycle

/// One pending or published event in the `outbox` collection.
public struct OutboxEntry: Codable, Sendable {
    public var _id: ObjectId
    public var eventId: String
    /// The logical topic (`Topic.rawValue`); the relay applies the environment's prefix.
    public var topic: String
    public var aggregateId: String
    public var type: String
    public var source: String
    public var time: Date
    public var data: Data
    public var traceparent: String?
    public var status: String
    public var createdAt: Date
    public var sentAt: Date?
    /// Events published right after this one, in this order, in the same batch (a service's
    /// realtime publications of the event): one document to insert and to mark.
    public var companions: [Companion]?

    /// An event that travels with an entry.
    public struct Companion: Codable, Sendable {
        public var eventId: String
        public var topic: String
        public var aggregateId: String
        public var type: String
        public var source: String
        public var time: Date
        public var data: Data
        public var traceparent: String?

        init(event: EventEnvelope, topic: Topic) {
            eventId = event.id
            self.topic = topic.rawValue
            aggregateId = event.aggregateID
            type = event.type.rawValue
            source = event.source
            time = event.time
            data = Data(event.data)
            traceparent = event.traceparent
        }

    }

    init(event: EventEnvelope, topic: Topic, companions: [(event: EventEnvelope, topic: Topic)] = []) {
        self.companions = companions.isEmpty ? nil : companions.map { Companion(event: $0.event, topic: $0.topic) }
        _id = ObjectId()
        eventId = event.id
        self.topic = topic.rawValue
        aggregateId = event.aggregateID
        type = event.type.rawValue
        source = event.source
        time = event.time
        data = Data(event.data)
        traceparent = event.traceparent
        status = "pending"
        createdAt = Date()
    }
}

/// The fields an outbox record keeps of its event (an entry and each of its companions).
protocol OutboxRecord {
    var eventId: String { get }
    var aggregateId: String { get }
    var type: String { get }
    var source: String { get }
    var time: Date { get }
    var data: Data { get }
    var traceparent: String? { get }
}

extension OutboxRecord {
    var envelope: EventEnvelope {
        EventEnvelope(id: eventId, source: source, type: EventType(rawValue: type), time: time,
                      aggregateID: aggregateId, data: Array(data), traceparent: traceparent)
    }
}

extension OutboxEntry: OutboxRecord {}
extension OutboxEntry.Companion: OutboxRecord {}

/// The transactional outbox: a service writes its document change and its event in one MongoDB
/// transaction (`Outbox.append(_:to:in:)`); `OutboxRelay` publishes them later.
public enum Outbox {
    public static let collection = "outbox"

    public static let indexes = [
        MongoIndex(name: "pending_in_order", keys: ["status": 1, "_id": 1]),
        MongoIndex(name: "event_id", keys: ["eventId": 1], unique: true),
    ]

    /// Records `event` for `topic` as part of the session's transaction.
    public static func append(_ event: EventEnvelope, to topic: Topic, in session: MongoSession) throws {
        try session.collection(collection, as: OutboxEntry.self).insert(OutboxEntry(event: event, topic: topic))
    }

    /// Records `event` for `topic` and, right behind it in the same batch, `companions` (each on
    /// its topic): one document, so one insert and one mark however many records it publishes.
    public static func append(_ event: EventEnvelope, to topic: Topic, with companions: [(event: EventEnvelope, topic: Topic)],
                              in session: MongoSession) throws {
        try session.collection(collection, as: OutboxEntry.self).insert(OutboxEntry(event: event, topic: topic, companions: companions))
    }

    /// Records `events`, all for `topic` and in this order, as one entry (nothing for none).
    public static func append(_ events: [EventEnvelope], to topic: Topic, in session: MongoSession) throws {
        guard let first = events.first else { return }
        try append(first, to: topic, with: events.dropFirst().map { ($0, topic) }, in: session)
    }

    public static func prepare(_ client: MongoClient) async throws {
        try await client.collection(collection, as: OutboxEntry.self).createIndexes(indexes)
    }
}

/// Publishes pending outbox entries to Kafka in insertion order and marks them sent.
///
/// A crash after publishing and before marking republishes those entries on restart: delivery is
/// at-least-once and consumers deduplicate on the event id (the inbox). Only the holder of a
/// lease document relays, so that two instances never interleave and reorder an aggregate's events.
public final class OutboxRelay: Service, Sendable {
    public struct Configuration: Sendable {
        public var batchSize: Int
        public var idleInterval: Duration
        public var leaseDuration: Duration
        public var owner: String

        public init(batchSize: Int = 500, idleInterval: Duration = .milliseconds(100), leaseDuration: Duration = .seconds(10),
                    owner: String = "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString.prefix(8))") {
            self.batchSize = batchSize
            self.idleInterval = idleInterval
            self.leaseDuration = leaseDuration
            self.owner = owner
        }
    }

    let mongo: MongoClient
    let producer: KafkaProducer
    let topics: TopicNames
    let configuration: Configuration
    let logger: Logger
    private let published = Counter(label: "outbox_published_total")
    private let failures = Counter(label: "outbox_relay_failures_total")

    public init(mongo: MongoClient, producer: KafkaProducer, topics: TopicNames, configuration: Configuration = .init(),
                logger: Logger = Logger(label: "outbox.relay")) {
        self.mongo = mongo
        self.producer = producer
        self.topics = topics
        self.configuration = configuration
        self.logger = logger
    }

    public func run() async throws {
        try await Outbox.prepare(mongo)
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let count = try await relayOnce()
                if count == 0 { try? await Task.sleep(for: configuration.idleInterval) }
            } catch {
                failures.increment()
                logger.warning("outbox relay: \(error)")
                try? await Task.sleep(for: .seconds(1))
            }
        }
        // Publish what is already pending before stopping; what remains waits for the next start.
        _ = try? await relayOnce()
    }

    /// Publishes one batch; returns how many entries were published.
    @discardableResult
    public func relayOnce() async throws -> Int {
        guard try await holdLease() else { return 0 }
        let entries = try await mongo.collection(Outbox.collection, as: OutboxEntry.self)
            .find(["status": "pending"], options: FindOptions(sort: ["_id": 1], limit: configuration.batchSize))
        guard !entries.isEmpty else { return 0 }
        // One batch keeps the order per key: the producer is idempotent, so retries do not reorder.
        try await producer.sendBatch(entries.flatMap { entry in
            [CloudEventsKafka.message(for: entry.envelope, topic: topics.name(Topic(rawValue: entry.topic)))]
                + (entry.companions ?? []).map { CloudEventsKafka.message(for: $0.envelope, topic: topics.name(Topic(rawValue: $0.topic))) }
        })
        try await mongo.collection(Outbox.collection, as: OutboxEntry.self).updateMany(
            ["_id": ["$in": .array(entries.map { .objectId($0._id) })]],
            ["$set": ["status": "sent", "sentAt": .date(Date())]])
        published.increment(by: entries.reduce(0) { $0 + 1 + ($1.companions?.count ?? 0) })
        return entries.count
    }

    private struct Lease: Codable, Sendable {
        var _id: String
        var owner: String
        var expiresAt: Date
    }

    /// Takes or renews the relay lease; false while another instance holds it.
    private func holdLease() async throws -> Bool {
        let now = Date()
        let expiry = now.addingTimeInterval(Double(configuration.leaseDuration.components.seconds))
        do {
            let lease = try await mongo.collection("outbox_lease", as: Lease.self).findOneAndUpdate(
                ["_id": "relay", "$or": [["owner": .string(configuration.owner)], ["expiresAt": ["$lt": .date(now)]]]],
                ["$set": ["owner": .string(configuration.owner), "expiresAt": .date(expiry)]],
                upsert: true)
            return lease?.owner == configuration.owner
        } catch let error as MongoError where error.isDuplicateKey {
            return false  // the lease exists and is someone else's
        }
    }
}
