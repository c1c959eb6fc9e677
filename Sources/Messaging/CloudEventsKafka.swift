import Foundation
import MarketplaceContracts
import MarketplaceKafka

/// CloudEvents 1.0, Kafka protocol binding, binary content mode: attributes travel as `ce_*`
/// headers, the value is the event data (JSON), the key is the aggregate id.
public enum CloudEventsKafka {
    public static func message(for event: EventEnvelope, topic: String) -> KafkaOutgoingMessage {
        var headers = [
            KafkaHeader(name: "ce_specversion", value: EventEnvelope.specVersion),
            KafkaHeader(name: "ce_id", value: event.id),
            KafkaHeader(name: "ce_source", value: event.source),
            KafkaHeader(name: "ce_type", value: event.type.rawValue),
            KafkaHeader(name: "ce_time", value: timestamp(event.time)),
            KafkaHeader(name: "ce_subject", value: event.aggregateID),
            KafkaHeader(name: "content-type", value: "application/json"),
        ]
        if let traceparent = event.traceparent { headers.append(KafkaHeader(name: "traceparent", value: traceparent)) }
        return KafkaOutgoingMessage(topic: topic, key: event.aggregateID, value: event.data, headers: headers)
    }

    public enum DecodingError: Error, CustomStringConvertible, Equatable {
        case missingAttribute(String)
        case unsupportedSpecVersion(String)
        case invalidTime(String)

        public var description: String {
            switch self {
            case .missingAttribute(let name): "CloudEvent without required header \(name)"
            case .unsupportedSpecVersion(let version): "unsupported CloudEvents specversion \(version)"
            case .invalidTime(let text): "invalid ce_time \(text)"
            }
        }
    }

    public static func event(from record: KafkaRecord) throws -> EventEnvelope {
        func required(_ name: String) throws -> String {
            guard let value = record.header(name)?.stringValue, !value.isEmpty else { throw DecodingError.missingAttribute(name) }
            return value
        }
        let version = try required("ce_specversion")
        guard version == EventEnvelope.specVersion else { throw DecodingError.unsupportedSpecVersion(version) }
        let timeText = try required("ce_time")
        guard let time = parseTimestamp(timeText) else { throw DecodingError.invalidTime(timeText) }
        return EventEnvelope(
            id: try required("ce_id"), source: try required("ce_source"), type: EventType(rawValue: try required("ce_type")),
            time: time, aggregateID: record.keyString ?? record.header("ce_subject")?.stringValue ?? "",
            data: record.value, traceparent: record.header("traceparent")?.stringValue)
    }

    static func timestamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true).timeSeparator(.colon).timeZone(separator: .omitted))
    }

    static func parseTimestamp(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: .iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: true).timeSeparator(.colon).timeZone(separator: .omitted)) {
            return date
        }
        return try? Date(text, strategy: .iso8601)
    }
}

/// Publishes straight to Kafka (for events that need no document change, e.g. positions), on
/// this environment's name of the topic.
public struct KafkaEventPublisher: EventPublisher {
    public let producer: KafkaProducer
    public let topics: TopicNames
    public init(producer: KafkaProducer, topics: TopicNames) {
        self.producer = producer
        self.topics = topics
    }

    public func publish(_ event: EventEnvelope, to topic: Topic) async throws {
        try await producer.send(CloudEventsKafka.message(for: event, topic: topics.name(topic)))
    }
}
