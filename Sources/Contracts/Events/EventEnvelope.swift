import Foundation

/// A domain event as it travels between services: CloudEvents 1.0 attributes plus the W3C trace
/// context. `data` is the JSON encoding of the payload. The domain builds envelopes; adapters
/// decide how they are carried (Kafka binary content mode, see Messaging).
public struct EventEnvelope: Sendable, Hashable {
    public static let specVersion = "1.0"

    /// Unique per event; consumers deduplicate on it.
    public var id: String
    /// The producing service, e.g. `/services/identity`.
    public var source: String
    /// A versioned type, e.g. `marketplace.user.registered.v1`.
    public var type: EventType
    public var time: Date
    /// The aggregate this event belongs to; the Kafka key, so its events stay in order.
    public var aggregateID: String
    public var data: [UInt8]
    /// W3C `traceparent` of the operation that caused the event, when there is one.
    public var traceparent: String?

    public init(id: String = UUID().uuidString.lowercased(), source: String, type: EventType, time: Date = Date(),
                aggregateID: String, data: [UInt8], traceparent: String? = nil) {
        self.id = id
        self.source = source
        self.type = type
        self.time = time
        self.aggregateID = aggregateID
        self.data = data
        self.traceparent = traceparent
    }

    /// Builds an envelope whose data is `payload` encoded as JSON.
    public init<Payload: Encodable>(source: String, type: EventType, aggregateID: String, payload: Payload,
                                    traceparent: String? = nil, time: Date = Date()) throws {
        self.init(source: source, type: type, time: time, aggregateID: aggregateID,
                  data: Array(try EventJSON.encoder.encode(payload)), traceparent: traceparent)
    }

    public func decode<Payload: Decodable>(_ type: Payload.Type) throws -> Payload {
        try EventJSON.decoder.decode(type, from: Data(data))
    }
}

/// A versioned event type name: `marketplace.<aggregate>.<what-happened>.v<version>`.
public struct EventType: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible, ExpressibleByStringLiteral {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { rawValue = value }
    public var description: String { rawValue }

    /// The version suffix (`v1` → 1), nil when the name has none.
    public var version: Int? {
        guard let last = rawValue.split(separator: ".").last, last.hasPrefix("v") else { return nil }
        return Int(last.dropFirst())
    }
}

/// The JSON conventions of event payloads: ISO 8601 dates with milliseconds (positions and
/// state changes are ordered by them: whole seconds made same-second updates look stale), sorted
/// keys (stable bytes). Dates without fractional seconds are still read.
public enum EventJSON {
    static let fractional = Date.ISO8601FormatStyle(includingFractionalSeconds: true)

    public static var encoder: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(date.formatted(fractional))
        }
        encoder.outputFormatting = [.sortedKeys]
        return encoder
    }

    public static var decoder: JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            let text = try container.decode(String.self)
            if let date = try? Date(text, strategy: fractional) { return date }
            if let date = try? Date(text, strategy: .iso8601) { return date }
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO 8601 date: \(text)")
        }
        return decoder
    }
}
