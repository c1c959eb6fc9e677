import CMongoc
import Foundation

/// A BSON value. Documents keep their field order (MongoDB compares sort and index specs by it).
public indirect enum BSONValue: Sendable, Hashable {
    case double(Double)
    case string(String)
    case document(BSONDocument)
    case array([BSONValue])
    case binary(subtype: UInt8, [UInt8])
    case objectId(ObjectId)
    case bool(Bool)
    case date(Date)
    case null
    case int32(Int32)
    case int64(Int64)
    case decimal128(Decimal128)
}

/// An ordered BSON document, written as a Swift dictionary literal:
/// `["status": "searching", "createdAt": ["$lt": .date(now)]]`.
public struct BSONDocument: Sendable, Hashable, ExpressibleByDictionaryLiteral, Sequence {
    public private(set) var fields: [(key: String, value: BSONValue)]

    public init() { fields = [] }
    public init(_ fields: [(String, BSONValue)]) { self.fields = fields.map { (key: $0.0, value: $0.1) } }
    public init(dictionaryLiteral elements: (String, BSONValue)...) { self.init(elements) }

    public subscript(key: String) -> BSONValue? {
        get { fields.first { $0.key == key }?.value }
        set {
            if let index = fields.firstIndex(where: { $0.key == key }) {
                if let newValue { fields[index].value = newValue } else { fields.remove(at: index) }
            } else if let newValue {
                fields.append((key, newValue))
            }
        }
    }

    public var keys: [String] { fields.map(\.key) }
    public var isEmpty: Bool { fields.isEmpty }
    public func makeIterator() -> IndexingIterator<[(key: String, value: BSONValue)]> { fields.makeIterator() }

    public static func == (lhs: BSONDocument, rhs: BSONDocument) -> Bool {
        lhs.fields.count == rhs.fields.count && zip(lhs.fields, rhs.fields).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }

    public func hash(into hasher: inout Hasher) {
        for field in fields { hasher.combine(field.key); hasher.combine(field.value) }
    }
}

// Literals, so filters read naturally.
extension BSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int64(Int64(value)) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: BSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, BSONValue)...) { self = .document(BSONDocument(elements)) }
    public init(nilLiteral: ()) { self = .null }
}

/// A 12-byte MongoDB ObjectId.
public struct ObjectId: Sendable, Hashable, Comparable, CustomStringConvertible, Codable {
    public let bytes: [UInt8]

    /// A new, unique id (timestamp, process-unique random, counter).
    public init() {
        var oid = bson_oid_t()
        bson_oid_init(&oid, nil)
        bytes = withUnsafeBytes(of: oid.bytes) { Array($0) }
    }

    public init?(_ hex: String) {
        guard hex.count == 24, bson_oid_is_valid(hex, 24) else { return nil }
        var oid = bson_oid_t()
        bson_oid_init_from_string(&oid, hex)
        bytes = withUnsafeBytes(of: oid.bytes) { Array($0) }
    }

    init(native: UnsafePointer<bson_oid_t>) { bytes = withUnsafeBytes(of: native.pointee.bytes) { Array($0) } }

    var native: bson_oid_t {
        var oid = bson_oid_t()
        withUnsafeMutableBytes(of: &oid.bytes) { $0.copyBytes(from: bytes) }
        return oid
    }

    public var hex: String { bytes.map { String(format: "%02x", $0) }.joined() }
    public var description: String { hex }
    public static func < (lhs: ObjectId, rhs: ObjectId) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    // Outside BSON (JSON APIs) an ObjectId is its hex string.
    public init(from decoder: Decoder) throws {
        if let bson = decoder as? BSONValueDecoder, case .objectId(let id) = bson.value { self = id; return }
        let hex = try decoder.singleValueContainer().decode(String.self)
        guard let id = ObjectId(hex) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid ObjectId '\(hex)'"))
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}

/// IEEE 754-2008 decimal128, for money: exact decimal arithmetic in the database.
public struct Decimal128: Sendable, Hashable, CustomStringConvertible, Codable {
    let low: UInt64
    let high: UInt64

    public init?(_ string: String) {
        var value = bson_decimal128_t()
        guard bson_decimal128_from_string(string, &value) else { return nil }
        low = value.low
        high = value.high
    }

    init(native: bson_decimal128_t) {
        low = native.low
        high = native.high
    }

    var native: bson_decimal128_t {
        var value = bson_decimal128_t()
        value.low = low
        value.high = high
        return value
    }

    public var description: String {
        var value = native
        var buffer = [CChar](repeating: 0, count: Int(BSON_DECIMAL128_STRING))
        bson_decimal128_to_string(&value, &buffer)
        return String(cString: buffer)
    }

    /// Foundation's Decimal, for arithmetic in Swift.
    public var decimal: Decimal? { Decimal(string: description, locale: Locale(identifier: "en_US_POSIX")) }

    public init?(_ decimal: Decimal) { self.init(NSDecimalNumber(decimal: decimal).description(withLocale: Locale(identifier: "en_US_POSIX"))) }

    // Outside BSON a Decimal128 is its decimal string ("12.50"), never a float.
    public init(from decoder: Decoder) throws {
        if let bson = decoder as? BSONValueDecoder, case .decimal128(let value) = bson.value { self = value; return }
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Decimal128(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "invalid decimal '\(text)'"))
        }
        self = value
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
