import CMongoc
import Foundation

public struct FindOptions: Sendable {
    public var sort: BSONDocument?
    public var skip: Int?
    public var limit: Int?
    public var projection: BSONDocument?
    public var batchSize: Int?

    public init(sort: BSONDocument? = nil, skip: Int? = nil, limit: Int? = nil, projection: BSONDocument? = nil, batchSize: Int? = nil) {
        self.sort = sort
        self.skip = skip
        self.limit = limit
        self.projection = projection
        self.batchSize = batchSize
    }

    var document: BSONDocument {
        var options = BSONDocument()
        if let sort { options["sort"] = .document(sort) }
        if let skip { options["skip"] = .int64(Int64(skip)) }
        if let limit { options["limit"] = .int64(Int64(limit)) }
        if let projection { options["projection"] = .document(projection) }
        if let batchSize { options["batchSize"] = .int32(Int32(batchSize)) }
        return options
    }
}

public struct UpdateResult: Sendable, Hashable {
    public var matched: Int
    public var modified: Int
    public var upsertedID: BSONValue?
}

/// An index declared next to the repository that needs it; applied at start-up.
public struct MongoIndex: Sendable, Hashable {
    public var name: String
    public var keys: BSONDocument
    public var unique: Bool
    /// Documents expire this long after the date in the (single) key field.
    public var expireAfterSeconds: Int?

    public init(name: String, keys: BSONDocument, unique: Bool = false, expireAfterSeconds: Int? = nil) {
        self.name = name
        self.keys = keys
        self.unique = unique
        self.expireAfterSeconds = expireAfterSeconds
    }
}

/// The synchronous operations on one collection, with or without a session. Always called on a
/// database thread.
struct CollectionOperations {
    let client: OpaquePointer
    let database: String
    let name: String
    let session: OpaquePointer?

    private func withCollection<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        let collection = mongoc_client_get_collection(client, database, name)!
        defer { mongoc_collection_destroy(collection) }
        return try body(collection)
    }

    /// Options plus the session id when in a transaction.
    private func options(_ base: BSONDocument = BSONDocument()) throws -> NativeDocument {
        let native = NativeDocument(base)
        if let session {
            var error = bson_error_t()
            guard mongoc_client_session_append(session, native.pointer, &error) else { throw MongoError(error) }
        }
        return native
    }

    func insert(_ documents: [BSONDocument]) throws {
        guard !documents.isEmpty else { return }
        try withCollection { collection in
            let opts = try options()
            let reply = NativeDocument()
            var error = bson_error_t()
            if documents.count == 1 {
                let native = NativeDocument(documents[0])
                guard mongoc_collection_insert_one(collection, native.pointer, opts.pointer, reply.pointer, &error) else { throw MongoError(error) }
                return
            }
            let natives = documents.map(NativeDocument.init)
            var pointers: [OpaquePointer?] = natives.map(\.pointer)
            let ok = pointers.withUnsafeMutableBufferPointer { buffer in
                mongoc_collection_insert_many(collection, buffer.baseAddress, natives.count, opts.pointer, reply.pointer, &error)
            }
            withExtendedLifetime(natives) {}
            guard ok else { throw MongoError(error) }
        }
    }

    func find(_ filter: BSONDocument, _ findOptions: FindOptions) throws -> [BSONDocument] {
        try withCollection { collection in
            let query = NativeDocument(filter)
            let opts = try options(findOptions.document)
            let cursor = mongoc_collection_find_with_opts(collection, query.pointer, opts.pointer, nil)!
            defer { mongoc_cursor_destroy(cursor) }
            return try Self.drain(cursor, limit: Int.max).documents
        }
    }

    /// Pulls up to `limit` documents; `exhausted` once the cursor has no more.
    static func drain(_ cursor: OpaquePointer, limit: Int) throws -> (documents: [BSONDocument], exhausted: Bool) {
        var documents: [BSONDocument] = []
        var current: OpaquePointer?
        while documents.count < limit {
            guard mongoc_cursor_next(cursor, &current), let current else {
                var error = bson_error_t()
                if mongoc_cursor_error(cursor, &error) { throw MongoError(error) }
                return (documents, true)
            }
            documents.append(NativeDocument.read(current))
        }
        return (documents, false)
    }

    func openCursor(_ filter: BSONDocument, _ findOptions: FindOptions) throws -> OpaquePointer {
        try withCollection { collection in
            let query = NativeDocument(filter)
            let opts = try options(findOptions.document)
            // The cursor keeps what it needs from the collection; destroying the handle is safe.
            return mongoc_collection_find_with_opts(collection, query.pointer, opts.pointer, nil)!
        }
    }

    func update(_ filter: BSONDocument, _ update: BSONDocument, upsert: Bool, many: Bool) throws -> UpdateResult {
        try withCollection { collection in
            let selector = NativeDocument(filter)
            let change = NativeDocument(update)
            let opts = try options(upsert ? ["upsert": true] : BSONDocument())
            let reply = NativeDocument()
            var error = bson_error_t()
            let ok = many
                ? mongoc_collection_update_many(collection, selector.pointer, change.pointer, opts.pointer, reply.pointer, &error)
                : mongoc_collection_update_one(collection, selector.pointer, change.pointer, opts.pointer, reply.pointer, &error)
            guard ok else { throw MongoError(error) }
            let result = reply.document
            return UpdateResult(matched: result["matchedCount"]?.intValue ?? 0,
                                modified: result["modifiedCount"]?.intValue ?? 0,
                                upsertedID: result["upsertedId"])
        }
    }

    /// Many single-document upserts as one ordered bulk write: one `update` command, one round
    /// trip (the server's batch limit aside); each statement still matches and changes its own document.
    func upsertEach(_ statements: [(filter: BSONDocument, update: BSONDocument)]) throws -> (matched: Int, upserted: Int) {
        guard !statements.isEmpty else { return (0, 0) }
        return try withCollection { collection in
            let opts = try options()
            let bulk = mongoc_collection_create_bulk_operation_with_opts(collection, opts.pointer)!
            defer { mongoc_bulk_operation_destroy(bulk) }
            let upsert = NativeDocument(["upsert": true])
            var error = bson_error_t()
            var natives: [NativeDocument] = []
            natives.reserveCapacity(statements.count * 2)
            for statement in statements {
                let selector = NativeDocument(statement.filter), change = NativeDocument(statement.update)
                natives += [selector, change]
                guard mongoc_bulk_operation_update_one_with_opts(bulk, selector.pointer, change.pointer, upsert.pointer, &error) else { throw MongoError(error) }
            }
            let reply = NativeDocument()
            let ok = mongoc_bulk_operation_execute(bulk, reply.pointer, &error) != 0
            withExtendedLifetime(natives) {}
            guard ok else { throw MongoError(error) }
            let result = reply.document
            return (result["nMatched"]?.intValue ?? 0, result["nUpserted"]?.intValue ?? 0)
        }
    }

    func findOneAndUpdate(_ filter: BSONDocument, _ update: BSONDocument, sort: BSONDocument?, returnNew: Bool, upsert: Bool) throws -> BSONDocument? {
        try withCollection { collection in
            let query = NativeDocument(filter)
            let change = NativeDocument(update)
            let famOptions = mongoc_find_and_modify_opts_new()!
            defer { mongoc_find_and_modify_opts_destroy(famOptions) }
            mongoc_find_and_modify_opts_set_update(famOptions, change.pointer)
            var flags = MONGOC_FIND_AND_MODIFY_NONE.rawValue
            if returnNew { flags |= MONGOC_FIND_AND_MODIFY_RETURN_NEW.rawValue }
            if upsert { flags |= MONGOC_FIND_AND_MODIFY_UPSERT.rawValue }
            mongoc_find_and_modify_opts_set_flags(famOptions, mongoc_find_and_modify_flags_t(rawValue: flags))
            let sortDocument = sort.map(NativeDocument.init)
            if let sortDocument { mongoc_find_and_modify_opts_set_sort(famOptions, sortDocument.pointer) }
            let extra = try options()
            mongoc_find_and_modify_opts_append(famOptions, extra.pointer)
            let reply = NativeDocument()
            var error = bson_error_t()
            guard mongoc_collection_find_and_modify_with_opts(collection, query.pointer, famOptions, reply.pointer, &error) else {
                throw MongoError(error)
            }
            if case .document(let value) = reply.document["value"] { return value }
            return nil
        }
    }

    func delete(_ filter: BSONDocument, many: Bool) throws -> Int {
        try withCollection { collection in
            let selector = NativeDocument(filter)
            let opts = try options()
            let reply = NativeDocument()
            var error = bson_error_t()
            let ok = many
                ? mongoc_collection_delete_many(collection, selector.pointer, opts.pointer, reply.pointer, &error)
                : mongoc_collection_delete_one(collection, selector.pointer, opts.pointer, reply.pointer, &error)
            guard ok else { throw MongoError(error) }
            return reply.document["deletedCount"]?.intValue ?? 0
        }
    }

    func count(_ filter: BSONDocument) throws -> Int {
        try withCollection { collection in
            let query = NativeDocument(filter)
            let opts = try options()
            var error = bson_error_t()
            let count = mongoc_collection_count_documents(collection, query.pointer, opts.pointer, nil, nil, &error)
            guard count >= 0 else { throw MongoError(error) }
            return Int(count)
        }
    }

    func aggregate(_ pipeline: [BSONDocument]) throws -> [BSONDocument] {
        try withCollection { collection in
            let stages = NativeDocument(["pipeline": .array(pipeline.map { .document($0) })])
            let opts = try options()
            let cursor = mongoc_collection_aggregate(collection, MONGOC_QUERY_NONE, stages.pointer, opts.pointer, nil)!
            defer { mongoc_cursor_destroy(cursor) }
            return try Self.drain(cursor, limit: Int.max).documents
        }
    }

    func createIndexes(_ indexes: [MongoIndex]) throws {
        guard !indexes.isEmpty else { return }
        try withCollection { collection in
            let specs: [BSONValue] = indexes.map { index in
                var spec: BSONDocument = ["key": .document(index.keys), "name": .string(index.name)]
                if index.unique { spec["unique"] = true }
                if let ttl = index.expireAfterSeconds { spec["expireAfterSeconds"] = .int32(Int32(ttl)) }
                return .document(spec)
            }
            let command = NativeDocument(["createIndexes": .string(name), "indexes": .array(specs)])
            let reply = NativeDocument()
            var error = bson_error_t()
            guard mongoc_collection_write_command_with_opts(collection, command.pointer, nil, reply.pointer, &error) else {
                throw MongoError(error)
            }
        }
    }

    func drop() throws {
        try withCollection { collection in
            var error = bson_error_t()
            if !mongoc_collection_drop(collection, &error) {
                let failure = MongoError(error)
                if case .server(let code, let message) = failure, code == 26 || message.contains("ns not found") { return }
                throw failure
            }
        }
    }
}

extension BSONValue {
    /// Any numeric value as Int (counts in replies come as int32 or int64).
    public var intValue: Int? {
        switch self {
        case .int32(let v): Int(v)
        case .int64(let v): Int(v)
        case .double(let v): Int(exactly: v)
        default: nil
        }
    }
}
