import CMongoc
import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Insert and find-by-id throughput through our MongoDB adapter against a raw libmongoc loop,
/// sequential (one client), on the same server in the same run. The server (SecantusDB, Python)
/// bounds both; the ratio shows our overhead.
public struct MongoBenchmark: Sendable {
    public var uri: String
    public var operations: Int
    public var rounds: Int

    public init(uri: String, operations: Int, rounds: Int) {
        self.uri = uri
        self.operations = operations
        self.rounds = rounds
    }

    struct Item: Codable, Sendable {
        var _id: ObjectId
        var name: String
        var price: Decimal128
        var count: Int
        var createdAt: Date
    }

    public func run() async throws -> [BenchResult] {
        var results: [BenchResult] = []
        for round in 1...rounds {
            let database = "bench_\(UUID().uuidString.prefix(8))"
            let rawIDs = try await onThread { try rawLoop(database: database, collection: "raw") }
            let client = try MongoClient(configuration: MongoConfiguration(uri: uri, database: database, poolSize: 2))
            let items = client.collection("ours", as: Item.self)
            let ids = (0..<operations).map { _ in ObjectId() }
            var start = ContinuousClock.now
            for (index, id) in ids.enumerated() {
                try await items.insert(Item(_id: id, name: "item-\(index)", price: Decimal128("19.99")!, count: index, createdAt: Date()))
            }
            let ourInsert = Double(operations) / (ContinuousClock.now - start).seconds
            start = .now
            for id in ids {
                guard try await items.findOne(["_id": .objectId(id)]) != nil else { throw BenchError("missing \(id)") }
            }
            let ourFind = Double(operations) / (ContinuousClock.now - start).seconds
            try? await items.drop()
            await client.shutdown()
            results.append(BenchResult(name: "mongo insert (sequential)", round: round, raw: rawIDs.insert, ours: ourInsert, unit: "ops/s"))
            results.append(BenchResult(name: "mongo find by _id (sequential)", round: round, raw: rawIDs.find, ours: ourFind, unit: "ops/s"))
        }
        return results
    }

    /// The same documents and queries written with libmongoc directly.
    private func rawLoop(database: String, collection name: String) throws -> (insert: Double, find: Double) {
        mongoc_init()
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(uri, &error) else { throw BenchError("raw uri") }
        defer { mongoc_uri_destroy(uri) }
        let client = mongoc_client_new_from_uri(uri)!
        defer { mongoc_client_destroy(client) }
        mongoc_client_set_error_api(client, 2)
        let collection = mongoc_client_get_collection(client, database, name)!
        defer { mongoc_collection_destroy(collection) }
        var price = bson_decimal128_t()
        bson_decimal128_from_string("19.99", &price)
        var oids: [bson_oid_t] = []
        oids.reserveCapacity(operations)
        var start = ContinuousClock.now
        for index in 0..<operations {
            var oid = bson_oid_t()
            bson_oid_init(&oid, nil)
            oids.append(oid)
            let document = bson_new()!
            bson_append_oid(document, "_id", 3, &oid)
            bson_append_utf8(document, "name", 4, "item-\(index)", -1)
            bson_append_decimal128(document, "price", 5, &price)
            bson_append_int64(document, "count", 5, Int64(index))
            bson_append_date_time(document, "createdAt", 9, Int64(Date().timeIntervalSince1970 * 1000))
            let ok = mongoc_collection_insert_one(collection, document, nil, nil, &error)
            bson_destroy(document)
            if !ok { throw BenchError("raw insert failed") }
        }
        let insert = Double(operations) / (ContinuousClock.now - start).seconds
        start = .now
        for var oid in oids {
            let filter = bson_new()!
            bson_append_oid(filter, "_id", 3, &oid)
            let options = bson_new()!
            bson_append_int64(options, "limit", 5, 1)
            let cursor = mongoc_collection_find_with_opts(collection, filter, options, nil)!
            var found: OpaquePointer?
            let hit = mongoc_cursor_next(cursor, &found)
            // Read the document, as the adapter decodes it.
            if hit, let found { _ = bson_count_keys(found) }
            mongoc_cursor_destroy(cursor)
            bson_destroy(filter)
            bson_destroy(options)
            if !hit { throw BenchError("raw find missed") }
        }
        let find = Double(operations) / (ContinuousClock.now - start).seconds
        _ = mongoc_collection_drop(collection, &error)
        return (insert, find)
    }
}
