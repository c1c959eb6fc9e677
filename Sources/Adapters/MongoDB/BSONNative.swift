import CMongoc
import Foundation

/// Conversion between `BSONDocument` and libbson's `bson_t`.
/// libbson declares bson_t 128-byte aligned, so it is allocated by hand with that alignment.
final class NativeDocument {
    let pointer: OpaquePointer

    /// An empty, initialised bson_t that the caller fills (a reply or an output document).
    init() {
        pointer = NativeDocument.allocate()
        bson_init(pointer)
    }

    convenience init(_ document: BSONDocument) {
        self.init()
        NativeDocument.append(document, to: pointer)
    }

    deinit {
        bson_destroy(pointer)
        UnsafeMutableRawPointer(pointer).deallocate()
    }

    var document: BSONDocument { NativeDocument.read(pointer) }

    /// bson_t is 128 bytes, 128-byte aligned (Swift sees it as opaque because of that alignment).
    static func allocate() -> OpaquePointer {
        OpaquePointer(UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 128))
    }

    // MARK: writing

    static func append(_ document: BSONDocument, to target: OpaquePointer) {
        for (key, value) in document.fields { append(value, key: key, to: target) }
    }

    static func append(_ value: BSONValue, key: String, to target: OpaquePointer) {
        let length = Int32(key.utf8.count)
        switch value {
        case .double(let v): bson_append_double(target, key, length, v)
        case .string(let v):
            var v = v
            v.withUTF8 { utf8 in
                utf8.withMemoryRebound(to: CChar.self) { chars in
                    var empty: CChar = 0
                    _ = bson_append_utf8(target, key, length, chars.baseAddress ?? UnsafePointer(&empty), Int32(utf8.count))
                }
            }
        case .document(let doc):
            let child = allocate()
            defer { UnsafeMutableRawPointer(child).deallocate() }
            bson_append_document_begin(target, key, length, child)
            append(doc, to: child)
            bson_append_document_end(target, child)
        case .array(let items):
            let child = allocate()
            defer { UnsafeMutableRawPointer(child).deallocate() }
            bson_append_array_begin(target, key, length, child)
            for (index, item) in items.enumerated() { append(item, key: String(index), to: child) }
            bson_append_array_end(target, child)
        case .binary(let subtype, let bytes):
            bytes.withUnsafeBufferPointer { buffer in
                _ = bson_append_binary(target, key, length, bson_subtype_t(rawValue: UInt32(subtype)), buffer.baseAddress, UInt32(buffer.count))
            }
        case .objectId(let id):
            var oid = id.native
            bson_append_oid(target, key, length, &oid)
        case .bool(let v): bson_append_bool(target, key, length, v)
        case .date(let date): bson_append_date_time(target, key, length, BSONDateTime.milliseconds(of: date))
        case .null: bson_append_null(target, key, length)
        case .int32(let v): bson_append_int32(target, key, length, v)
        case .int64(let v): bson_append_int64(target, key, length, v)
        case .decimal128(let v):
            var native = v.native
            bson_append_decimal128(target, key, length, &native)
        }
    }

    // MARK: reading

    /// bson_iter_t is also 128-byte aligned and opaque to Swift; 256 bytes cover its size.
    private static func newIterator() -> OpaquePointer {
        OpaquePointer(UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 128))
    }

    static func read(_ source: OpaquePointer) -> BSONDocument {
        let iterator = newIterator()
        defer { UnsafeMutableRawPointer(iterator).deallocate() }
        guard bson_iter_init(iterator, source) else { return BSONDocument() }
        return readDocument(iterator)
    }

    private static func readDocument(_ iterator: OpaquePointer) -> BSONDocument {
        var fields: [(String, BSONValue)] = []
        while bson_iter_next(iterator) {
            fields.append((String(cString: bson_iter_key(iterator)), readValue(iterator)))
        }
        return BSONDocument(fields)
    }

    private static func readValue(_ iterator: OpaquePointer) -> BSONValue {
        switch bson_iter_type(iterator) {
        case BSON_TYPE_DOUBLE: return .double(bson_iter_double(iterator))
        case BSON_TYPE_UTF8:
            var length: UInt32 = 0
            let text = bson_iter_utf8(iterator, &length)!
            return .string(String(decoding: UnsafeRawBufferPointer(start: text, count: Int(length)), as: UTF8.self))
        case BSON_TYPE_DOCUMENT:
            let child = newIterator()
            defer { UnsafeMutableRawPointer(child).deallocate() }
            bson_iter_recurse(iterator, child)
            return .document(readDocument(child))
        case BSON_TYPE_ARRAY:
            let child = newIterator()
            defer { UnsafeMutableRawPointer(child).deallocate() }
            bson_iter_recurse(iterator, child)
            var items: [BSONValue] = []
            while bson_iter_next(child) { items.append(readValue(child)) }
            return .array(items)
        case BSON_TYPE_BINARY:
            var subtype = BSON_SUBTYPE_BINARY
            var length: UInt32 = 0
            var data: UnsafePointer<UInt8>?
            bson_iter_binary(iterator, &subtype, &length, &data)
            return .binary(subtype: UInt8(subtype.rawValue), data.map { Array(UnsafeBufferPointer(start: $0, count: Int(length))) } ?? [])
        case BSON_TYPE_OID: return .objectId(ObjectId(native: bson_iter_oid(iterator)))
        case BSON_TYPE_BOOL: return .bool(bson_iter_bool(iterator))
        case BSON_TYPE_DATE_TIME: return .date(BSONDateTime.date(milliseconds: bson_iter_date_time(iterator)))
        case BSON_TYPE_INT32: return .int32(bson_iter_int32(iterator))
        case BSON_TYPE_INT64: return .int64(bson_iter_int64(iterator))
        case BSON_TYPE_DECIMAL128:
            var value = bson_decimal128_t()
            bson_iter_decimal128(iterator, &value)
            return .decimal128(Decimal128(native: value))
        case BSON_TYPE_TIMESTAMP:
            var seconds: UInt32 = 0, increment: UInt32 = 0
            bson_iter_timestamp(iterator, &seconds, &increment)
            return .int64(Int64(seconds) << 32 | Int64(increment))
        default:
            return .null  // undefined, regex, code, min/max keys: not used by this platform
        }
    }
}

/// BSON's datetime (Int64 milliseconds since 1970) as Foundation's `Date` (a Double of seconds)
/// and back, bounded to ±2^48 ms (about ±8,900 years around 1970, past year 10,000): inside the
/// bound milliseconds → Date → milliseconds gives the same integer (the roundings err by well under
/// half a millisecond there); beyond it a datetime reads as the bound. Unbounded, a far date came
/// back a millisecond off on every round trip and `Int64(Double)` trapped on a huge or non-finite
/// one (found by scripts/fuzz-targets.sh bson).
enum BSONDateTime {
    static let bound: Int64 = 1 << 48

    static func date(milliseconds: Int64) -> Date {
        Date(timeIntervalSince1970: Double(min(max(milliseconds, -bound), bound)) / 1000)
    }

    static func milliseconds(of date: Date) -> Int64 {
        let millis = (date.timeIntervalSince1970 * 1000).rounded()
        if millis.isNaN { return 0 }
        return millis >= Double(bound) ? bound : millis <= -Double(bound) ? -bound : Int64(millis)
    }
}
