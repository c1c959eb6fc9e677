import Foundation
import MarketplaceContracts
import MarketplaceKafka
import MarketplaceMessaging

/// Writes to the fan-out topic; what services use to reach clients.
public struct RealtimePublisher: Sendable {
    public let producer: KafkaProducer
    public let topic: String

    /// Writes to this environment's fan-out topic.
    public init(producer: KafkaProducer, topics: TopicNames) {
        self.producer = producer
        self.topic = topics.name(.realtimePublications)
    }

    public func publish(_ channel: RealtimeChannel, data: [UInt8], info: ClientInfo? = nil, traceparent: String? = nil) async throws {
        _ = try await producer.send(RealtimeBus.message(.publication, channel: channel.name, data: data, info: info, topic: topic, traceparent: traceparent))
    }

    public func send(_ kind: RealtimeBus.Kind, channel: RealtimeChannel, data: [UInt8] = Array("{}".utf8), info: ClientInfo? = nil) async throws {
        _ = try await producer.send(RealtimeBus.message(kind, channel: channel.name, data: data, info: info, topic: topic))
    }

    /// Several records at once (one wait for the last acknowledgement).
    public func sendBatch(_ records: [(RealtimeBus.Kind, RealtimeChannel, [UInt8])], traceparent: String? = nil) async throws {
        try await producer.sendBatch(records.map { RealtimeBus.message($0.0, channel: $0.1.name, data: $0.2, info: nil, topic: topic, traceparent: traceparent) })
    }
}
