import Foundation
import MarketplaceContracts
import MarketplaceKafka
import MarketplaceMessaging

/// The fan-out topic: every publication, join, leave and access revocation is a CloudEvent on
/// `Topic.realtimePublications`, keyed by channel (so one channel's records keep their order in one
/// partition). Services and gateway nodes write here; every gateway node reads everything and
/// delivers to its own subscribers. A client's publish is acknowledged only once Kafka has it.
public enum RealtimeBus {
    public static let source = "/services/realtime"

    public enum Kind: String, Sendable {
        case publication = "marketplace.realtime.publication.v1"
        case join = "marketplace.realtime.join.v1"
        case leave = "marketplace.realtime.leave.v1"
        /// Access to the channel ended: subscribers get an unsubscribe push.
        case revoke = "marketplace.realtime.revoked.v1"
        /// Delivered to current subscribers only: no history, no offset (typing indicators).
        case ephemeral = "marketplace.realtime.ephemeral.v1"
    }

    /// One record as a gateway node sees it. `offset` is the Kafka offset + 1 (the protocol
    /// treats offset 0 as "none").
    public struct Incoming: Sendable {
        public var kind: Kind
        public var channel: String
        public var eventID: String
        public var data: [UInt8]
        public var info: ClientInfo?
        public var offset: UInt64
        public var producedAtMillis: Int64?

        public var publication: Publication { Publication(offset: offset, data: data, info: info) }
    }

    public static func message(_ kind: Kind, channel: String, data: [UInt8], info: ClientInfo?, topic: String,
                               traceparent: String? = nil) -> KafkaOutgoingMessage {
        let event = EventEnvelope(source: source, type: EventType(rawValue: kind.rawValue), aggregateID: channel, data: data, traceparent: traceparent)
        var message = CloudEventsKafka.message(for: event, topic: topic)
        if let info {
            message.headers.append(KafkaHeader(name: "ce_rtuser", value: info.user))
            message.headers.append(KafkaHeader(name: "ce_rtclient", value: info.client))
        }
        return message
    }

    public static func decode(_ record: KafkaRecord) -> Incoming? {
        guard let type = record.header("ce_type")?.stringValue, let kind = Kind(rawValue: type),
              let channel = record.keyString, let eventID = record.header("ce_id")?.stringValue else { return nil }
        var info: ClientInfo?
        if let user = record.header("ce_rtuser")?.stringValue {
            info = ClientInfo(user: user, client: record.header("ce_rtclient")?.stringValue ?? "")
        }
        return Incoming(kind: kind, channel: channel, eventID: eventID, data: record.value, info: info,
                        offset: UInt64(record.offset + 1), producedAtMillis: record.timestampMillis)
    }
}
