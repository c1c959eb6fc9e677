import Foundation
import MarketplaceContracts

/// Encodes Codable values as BSON: Date as a BSON date, UUID as binary subtype 4, Data as binary,
/// ObjectId and Decimal128 as themselves, Int as int64, nil optionals left out.
public struct BSONEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> BSONDocument {
        guard case .document(let document) = try encodeValue(value) else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "top-level value is not a document"))
        }
        return document
    }

    public func encodeValue<T: Encodable>(_ value: T) throws -> BSONValue {
        try BSONValueEncoder.box(value, codingPath: [])
    }
}

/// The encoding tree: containers hand out references so nested containers can fill them later.
final class EncodingNode {
    enum Content { case empty, value(BSONValue), document([String], [String: EncodingNode]), array([EncodingNode]) }
    var content: Content = .empty

    init() {}
    init(_ value: BSONValue) { content = .value(value) }

    var value: BSONValue {
        switch content {
        case .empty: return .document(BSONDocument())
        case .value(let value): return value
        case .document(let keys, let nodes): return .document(BSONDocument(keys.map { ($0, nodes[$0]!.value) }))
        case .array(let nodes): return .array(nodes.map(\.value))
        }
    }

    func set(_ key: String, _ node: EncodingNode) {
        guard case .document(var keys, var nodes) = content else { return }
        if nodes[key] == nil { keys.append(key) }
        nodes[key] = node
        content = .document(keys, nodes)
    }

    func append(_ node: EncodingNode) {
        guard case .array(var nodes) = content else { return }
        nodes.append(node)
        content = .array(nodes)
    }
}

struct BSONValueEncoder: Encoder {
    let node: EncodingNode
    let codingPath: [CodingKey]
    /// Decimals are stored exactly (decimal128): Money encodes its amount as one.
    var userInfo: [CodingUserInfoKey: Any] { [.nativeDecimals: true] }

    static func box<T: Encodable>(_ value: T, codingPath: [CodingKey]) throws -> BSONValue {
        if let special = special(value) { return special }
        let encoder = BSONValueEncoder(node: EncodingNode(), codingPath: codingPath)
        try value.encode(to: encoder)
        return encoder.node.value
    }

    static func special(_ value: Any) -> BSONValue? {
        switch value {
        case let v as BSONValue: return v
        case let v as BSONDocument: return .document(v)
        case let v as ObjectId: return .objectId(v)
        case let v as Decimal128: return .decimal128(v)
        case let v as Date: return .date(v)
        case let v as UUID: return .binary(subtype: 4, withUnsafeBytes(of: v.uuid) { Array($0) })
        case let v as Data: return .binary(subtype: 0, Array(v))
        case let v as Decimal: return Decimal128(v).map { .decimal128($0) }
        default: return nil
        }
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .empty = node.content { node.content = .document([], [:]) }
        return KeyedEncodingContainer(KeyedContainer<Key>(node: node, codingPath: codingPath))
    }

    func unkeyedContainer() -> UnkeyedEncodingContainer {
        if case .empty = node.content { node.content = .array([]) }
        return UnkeyedContainer(node: node, codingPath: codingPath)
    }

    func singleValueContainer() -> SingleValueEncodingContainer { SingleContainer(node: node, codingPath: codingPath) }

    static func primitive(_ value: Any) -> BSONValue? {
        switch value {
        case let v as Bool: return .bool(v)
        case let v as String: return .string(v)
        case let v as Double: return .double(v)
        case let v as Float: return .double(Double(v))
        case let v as Int: return .int64(Int64(v))
        case let v as Int64: return .int64(v)
        case let v as Int32: return .int32(v)
        case let v as Int16: return .int32(Int32(v))
        case let v as Int8: return .int32(Int32(v))
        case let v as UInt8: return .int32(Int32(v))
        case let v as UInt16: return .int32(Int32(v))
        case let v as UInt32: return .int64(Int64(v))
        case let v as UInt: return Int64(exactly: v).map { .int64($0) }
        case let v as UInt64: return Int64(exactly: v).map { .int64($0) }
        default: return nil
        }
    }

    static func encodeAny<T: Encodable>(_ value: T, path: [CodingKey]) throws -> EncodingNode {
        if let primitive = primitive(value) { return EncodingNode(primitive) }
        if value is UInt || value is UInt64 {
            throw EncodingError.invalidValue(value, .init(codingPath: path, debugDescription: "integer does not fit in int64"))
        }
        if let special = special(value) { return EncodingNode(special) }
        let child = BSONValueEncoder(node: EncodingNode(), codingPath: path)
        try value.encode(to: child)
        return child.node
    }

    struct KeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
        let node: EncodingNode
        let codingPath: [CodingKey]

        mutating func encodeNil(forKey key: Key) throws { node.set(key.stringValue, EncodingNode(.null)) }
        mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
            node.set(key.stringValue, try BSONValueEncoder.encodeAny(value, path: codingPath + [key]))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
            let child = EncodingNode()
            child.content = .document([], [:])
            node.set(key.stringValue, child)
            return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath + [key]))
        }
        mutating func nestedUnkeyedContainer(forKey key: Key) -> UnkeyedEncodingContainer {
            let child = EncodingNode()
            child.content = .array([])
            node.set(key.stringValue, child)
            return UnkeyedContainer(node: child, codingPath: codingPath + [key])
        }
        mutating func superEncoder() -> Encoder { superEncoder(forKey: Key(stringValue: "super")!) }
        mutating func superEncoder(forKey key: Key) -> Encoder {
            let child = EncodingNode()
            node.set(key.stringValue, child)
            return BSONValueEncoder(node: child, codingPath: codingPath + [key])
        }
    }

    struct UnkeyedContainer: UnkeyedEncodingContainer {
        let node: EncodingNode
        let codingPath: [CodingKey]
        var count: Int { if case .array(let nodes) = node.content { nodes.count } else { 0 } }

        mutating func encodeNil() throws { node.append(EncodingNode(.null)) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            node.append(try BSONValueEncoder.encodeAny(value, path: codingPath + [IndexKey(count)]))
        }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
            let child = EncodingNode()
            child.content = .document([], [:])
            node.append(child)
            return KeyedEncodingContainer(KeyedContainer<NestedKey>(node: child, codingPath: codingPath))
        }
        mutating func nestedUnkeyedContainer() -> UnkeyedEncodingContainer {
            let child = EncodingNode()
            child.content = .array([])
            node.append(child)
            return UnkeyedContainer(node: child, codingPath: codingPath)
        }
        mutating func superEncoder() -> Encoder {
            let child = EncodingNode()
            node.append(child)
            return BSONValueEncoder(node: child, codingPath: codingPath)
        }
    }

    struct SingleContainer: SingleValueEncodingContainer {
        let node: EncodingNode
        let codingPath: [CodingKey]
        mutating func encodeNil() throws { node.content = .value(.null) }
        mutating func encode<T: Encodable>(_ value: T) throws {
            node.content = try BSONValueEncoder.encodeAny(value, path: codingPath).content
        }
    }
}

struct IndexKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(_ index: Int) { stringValue = String(index); intValue = index }
    init?(stringValue: String) { self.stringValue = stringValue; intValue = Int(stringValue) }
    init?(intValue: Int) { self.init(intValue) }
}
