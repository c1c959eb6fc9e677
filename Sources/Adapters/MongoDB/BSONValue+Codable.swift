import Foundation

/// BSONValue and BSONDocument are Codable so that models can hold free-form documents. Through
/// the BSON coders they pass unchanged; through JSON they take their relaxed JSON shape
/// (ObjectId as hex, Decimal128 as a string, binary as base64).
extension BSONValue: Codable {
    public init(from decoder: Decoder) throws {
        if let bson = decoder as? BSONValueDecoder { self = bson.value; return }
        if let container = try? decoder.container(keyedBy: DynamicKey.self) {
            self = .document(BSONDocument(try container.allKeys.map { ($0.stringValue, try container.decode(BSONValue.self, forKey: $0)) }))
            return
        }
        if var container = try? decoder.unkeyedContainer() {
            var items: [BSONValue] = []
            while !container.isAtEnd { items.append(try container.decode(BSONValue.self)) }
            self = .array(items)
            return
        }
        let single = try decoder.singleValueContainer()
        if single.decodeNil() { self = .null }
        else if let value = try? single.decode(Bool.self) { self = .bool(value) }
        else if let value = try? single.decode(Int64.self) { self = .int64(value) }
        else if let value = try? single.decode(Double.self) { self = .double(value) }
        else { self = .string(try single.decode(String.self)) }
    }

    public func encode(to encoder: Encoder) throws {
        switch self {
        case .document(let document):
            var container = encoder.container(keyedBy: DynamicKey.self)
            for (key, value) in document.fields { try container.encode(value, forKey: DynamicKey(key)) }
        case .array(let items):
            var container = encoder.unkeyedContainer()
            for item in items { try container.encode(item) }
        case .double(let v): var c = encoder.singleValueContainer(); try c.encode(v)
        case .string(let v): var c = encoder.singleValueContainer(); try c.encode(v)
        case .binary(_, let bytes): var c = encoder.singleValueContainer(); try c.encode(Data(bytes).base64EncodedString())
        case .objectId(let v): var c = encoder.singleValueContainer(); try c.encode(v.hex)
        case .bool(let v): var c = encoder.singleValueContainer(); try c.encode(v)
        case .date(let v): var c = encoder.singleValueContainer(); try c.encode(v)
        case .null: var c = encoder.singleValueContainer(); try c.encodeNil()
        case .int32(let v): var c = encoder.singleValueContainer(); try c.encode(v)
        case .int64(let v): var c = encoder.singleValueContainer(); try c.encode(v)
        case .decimal128(let v): var c = encoder.singleValueContainer(); try c.encode(v.description)
        }
    }
}

extension BSONDocument: Codable {
    public init(from decoder: Decoder) throws {
        guard case .document(let document) = try BSONValue(from: decoder) else {
            throw DecodingError.typeMismatch(BSONDocument.self, .init(codingPath: decoder.codingPath, debugDescription: "not a document"))
        }
        self = document
    }

    public func encode(to encoder: Encoder) throws { try BSONValue.document(self).encode(to: encoder) }
}

struct DynamicKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}
