import Foundation

/// Decodes Codable values from BSON; numbers convert between int32, int64 and double when exact.
public struct BSONDecoder: Sendable {
    public init() {}

    public func decode<T: Decodable>(_ type: T.Type, from document: BSONDocument) throws -> T {
        try decode(type, fromValue: .document(document))
    }

    public func decode<T: Decodable>(_ type: T.Type, fromValue value: BSONValue) throws -> T {
        try BSONValueDecoder(value: value, codingPath: []).unbox(type)
    }
}

struct BSONValueDecoder: Decoder {
    let value: BSONValue
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func unbox<T: Decodable>(_ type: T.Type) throws -> T {
        if let special = try special(type) { return special }
        return try T(from: self)
    }

    private func special<T>(_ type: T.Type) throws -> T? {
        switch type {
        case is BSONValue.Type: return value as? T
        case is BSONDocument.Type:
            guard case .document(let document) = value else { throw mismatch(type) }
            return document as? T
        case is Date.Type:
            switch value {
            case .date(let date): return date as? T
            case .int64(let millis): return Date(timeIntervalSince1970: Double(millis) / 1000) as? T
            default: throw mismatch(type)
            }
        case is UUID.Type:
            if case .binary(_, let bytes) = value, bytes.count == 16 {
                let uuid = bytes.withUnsafeBytes { $0.loadUnaligned(as: uuid_t.self) }
                return UUID(uuid: uuid) as? T
            }
            if case .string(let text) = value, let uuid = UUID(uuidString: text) { return uuid as? T }
            throw mismatch(type)
        case is Data.Type:
            guard case .binary(_, let bytes) = value else { throw mismatch(type) }
            return Data(bytes) as? T
        case is Decimal.Type:
            guard case .decimal128(let decimal) = value, let result = decimal.decimal else { throw mismatch(type) }
            return result as? T
        default: return nil
        }
    }

    func mismatch(_ type: Any.Type) -> DecodingError {
        .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "expected \(type), found \(value)"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .document(let document) = value else { throw mismatch(BSONDocument.self) }
        return KeyedDecodingContainer(KeyedContainer<Key>(document: document, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch([BSONValue].self) }
        return UnkeyedContainer(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { SingleContainer(decoder: self) }

    func primitive<T>(_ type: T.Type) throws -> T {
        func integer<I: FixedWidthInteger>(_: I.Type) -> I? {
            switch value {
            case .int32(let v): I(exactly: v)
            case .int64(let v): I(exactly: v)
            case .double(let v): I(exactly: v)
            default: nil
            }
        }
        let result: Any?
        switch type {
        case is Bool.Type: if case .bool(let v) = value { result = v } else { result = nil }
        case is String.Type: if case .string(let v) = value { result = v } else { result = nil }
        case is Double.Type, is Float.Type:
            let double: Double? = switch value {
            case .double(let v): v
            case .int32(let v): Double(v)
            case .int64(let v): Double(v)
            case .decimal128(let v): Double(v.description)
            default: nil
            }
            result = type is Float.Type ? double.map { Float($0) } : double
        case is Int.Type: result = integer(Int.self)
        case is Int8.Type: result = integer(Int8.self)
        case is Int16.Type: result = integer(Int16.self)
        case is Int32.Type: result = integer(Int32.self)
        case is Int64.Type: result = integer(Int64.self)
        case is UInt.Type: result = integer(UInt.self)
        case is UInt8.Type: result = integer(UInt8.self)
        case is UInt16.Type: result = integer(UInt16.self)
        case is UInt32.Type: result = integer(UInt32.self)
        case is UInt64.Type: result = integer(UInt64.self)
        default: result = nil
        }
        guard let typed = result as? T else { throw mismatch(type) }
        return typed
    }

    static func decode<T: Decodable>(_ type: T.Type, _ value: BSONValue, path: [CodingKey]) throws -> T {
        let decoder = BSONValueDecoder(value: value, codingPath: path)
        switch type {
        case is Bool.Type, is String.Type, is Double.Type, is Float.Type, is Int.Type, is Int8.Type, is Int16.Type,
             is Int32.Type, is Int64.Type, is UInt.Type, is UInt8.Type, is UInt16.Type, is UInt32.Type, is UInt64.Type:
            return try decoder.primitive(type)
        default:
            return try decoder.unbox(type)
        }
    }

    struct KeyedContainer<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let values: [String: BSONValue]
        let codingPath: [CodingKey]
        let allKeys: [Key]

        init(document: BSONDocument, codingPath: [CodingKey]) {
            var values: [String: BSONValue] = [:]
            for (key, value) in document.fields { values[key] = value }
            self.values = values
            self.codingPath = codingPath
            allKeys = document.keys.compactMap { Key(stringValue: $0) }
        }

        func contains(_ key: Key) -> Bool { values[key.stringValue] != nil }

        private func value(_ key: Key) throws -> BSONValue {
            guard let value = values[key.stringValue] else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no field '\(key.stringValue)'"))
            }
            return value
        }

        func decodeNil(forKey key: Key) throws -> Bool { (values[key.stringValue] ?? .null) == .null }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            try BSONValueDecoder.decode(type, try value(key), path: codingPath + [key])
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try BSONValueDecoder(value: try value(key), codingPath: codingPath + [key]).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
            try BSONValueDecoder(value: try value(key), codingPath: codingPath + [key]).unkeyedContainer()
        }

        func superDecoder() throws -> Decoder { BSONValueDecoder(value: values["super"] ?? .null, codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> Decoder { BSONValueDecoder(value: values[key.stringValue] ?? .null, codingPath: codingPath + [key]) }
    }

    struct UnkeyedContainer: UnkeyedDecodingContainer {
        let items: [BSONValue]
        let codingPath: [CodingKey]
        var currentIndex = 0
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }

        init(items: [BSONValue], codingPath: [CodingKey]) {
            self.items = items
            self.codingPath = codingPath
        }

        private mutating func nextValue() throws -> BSONValue {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(BSONValue.self, .init(codingPath: codingPath, debugDescription: "array exhausted"))
            }
            defer { currentIndex += 1 }
            return items[currentIndex]
        }

        mutating func decodeNil() throws -> Bool {
            if !isAtEnd, items[currentIndex] == .null { currentIndex += 1; return true }
            return false
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
            let path = codingPath + [IndexKey(currentIndex)]
            return try BSONValueDecoder.decode(type, try nextValue(), path: path)
        }

        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try BSONValueDecoder(value: try nextValue(), codingPath: codingPath).container(keyedBy: type)
        }

        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer {
            try BSONValueDecoder(value: try nextValue(), codingPath: codingPath).unkeyedContainer()
        }

        mutating func superDecoder() throws -> Decoder { BSONValueDecoder(value: try nextValue(), codingPath: codingPath) }
    }

    struct SingleContainer: SingleValueDecodingContainer {
        let decoder: BSONValueDecoder
        var codingPath: [CodingKey] { decoder.codingPath }
        func decodeNil() -> Bool { decoder.value == .null }
        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            try BSONValueDecoder.decode(type, decoder.value, path: codingPath)
        }
    }
}
