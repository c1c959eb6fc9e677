import CMongoc
import Foundation

/// libFuzzer target: bytes as a BSON document arriving from the server. libbson validates them as
/// libmongoc does for a reply; a valid document is read into `BSONDocument` (the adapter's own
/// reader over libbson's iterators), decoded into a stored-document shape with the adapter's
/// `BSONDecoder` (errors are fine, crashes are not), and written back through `NativeDocument`;
/// reading and writing that again must give the same bytes (the adapter's write and read are
/// stable: nothing lost or invented on a round trip; bytes, so that NaN compares equal).
/// Built and run by scripts/fuzz-targets.sh (swiftc -sanitize=fuzzer,address).
struct StoredShape: Decodable {
    var _id: String
    var status: String?
    var count: Int?
    var amount: Decimal128?
    var at: Date?
    var tags: [String]?
    var nested: [String: Int]?
    var flag: Bool?
    var ratio: Double?
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzBSONDecoder(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let native = NativeDocument.allocate()
    defer { UnsafeMutableRawPointer(native).deallocate() }
    guard bson_init_static(native, bytes, count) else { return 0 }
    var offset = 0
    guard bson_validate(native, BSON_VALIDATE_UTF8, &offset) else { return 0 }
    let document = NativeDocument.read(native)
    _ = try? BSONDecoder().decode(StoredShape.self, from: document)
    for (_, value) in document.fields { _ = try? BSONDecoder().decode(StoredShape.self, fromValue: value) }
    let once = NativeDocument(document)
    let twice = NativeDocument(once.document)
    precondition(serialized(once) == serialized(twice), "BSON read → write is not stable")
    return 0
}

/// A document's bytes: libbson's data, whose first four bytes are its length (little endian).
func serialized(_ document: NativeDocument) -> [UInt8] {
    let data = bson_get_data(document.pointer)!
    let length = Int(data[0]) | Int(data[1]) << 8 | Int(data[2]) << 16 | Int(data[3]) << 24
    return Array(UnsafeBufferPointer(start: data, count: length))
}
