import CMongoc
import Foundation

/// A typed collection. Documents are Codable values (`_id` as their id field); filters, updates
/// and sorts are BSONDocuments with MongoDB's operators.
public struct MongoCollection<Document: Codable & Sendable>: Sendable {
    public let client: MongoClient
    public let name: String

    private func operations(_ connection: MongoConnection) -> CollectionOperations {
        CollectionOperations(client: connection.client, database: client.database, name: name, session: nil)
    }

    public func insert(_ document: Document) async throws {
        try await insert([document])
    }

    public func insert(_ documents: [Document]) async throws {
        let encoded = try documents.map { try BSONEncoder().encode($0) }
        try await client.withConnection { try operations($0).insert(encoded) }
    }

    public func find(_ filter: BSONDocument = [:], options: FindOptions = .init()) async throws -> [Document] {
        let documents = try await client.withConnection { try operations($0).find(filter, options) }
        return try documents.map(decode)
    }

    public func findOne(_ filter: BSONDocument) async throws -> Document? {
        try await find(filter, options: FindOptions(limit: 1)).first
    }

    /// Streams the results batch by batch; the database is asked for the next batch only when
    /// the consumer reached the end of the current one.
    public func stream(_ filter: BSONDocument = [:], options: FindOptions = .init()) -> MongoCursor<Document> {
        MongoCursor(client: client, collection: name, filter: filter, options: options)
    }

    @discardableResult
    public func updateOne(_ filter: BSONDocument, _ update: BSONDocument, upsert: Bool = false) async throws -> UpdateResult {
        try await client.withConnection { try operations($0).update(filter, update, upsert: upsert, many: false) }
    }

    @discardableResult
    public func updateMany(_ filter: BSONDocument, _ update: BSONDocument) async throws -> UpdateResult {
        try await client.withConnection { try operations($0).update(filter, update, upsert: false, many: true) }
    }

    /// Upserts each (filter, update) pair, all in one bulk write (one round trip).
    @discardableResult
    public func upsertEach(_ statements: [(filter: BSONDocument, update: BSONDocument)]) async throws -> (matched: Int, upserted: Int) {
        guard !statements.isEmpty else { return (0, 0) }
        return try await client.withConnection { try operations($0).upsertEach(statements) }
    }

    /// Atomically updates the first match and returns it (after the change by default): the
    /// compare-and-set behind state transitions. nil when nothing matched.
    public func findOneAndUpdate(_ filter: BSONDocument, _ update: BSONDocument, sort: BSONDocument? = nil,
                                 returnNew: Bool = true, upsert: Bool = false) async throws -> Document? {
        let document = try await client.withConnection {
            try operations($0).findOneAndUpdate(filter, update, sort: sort, returnNew: returnNew, upsert: upsert)
        }
        return try document.map(decode)
    }

    @discardableResult
    public func deleteOne(_ filter: BSONDocument) async throws -> Int {
        try await client.withConnection { try operations($0).delete(filter, many: false) }
    }

    @discardableResult
    public func deleteMany(_ filter: BSONDocument) async throws -> Int {
        try await client.withConnection { try operations($0).delete(filter, many: true) }
    }

    public func count(_ filter: BSONDocument = [:]) async throws -> Int {
        try await client.withConnection { try operations($0).count(filter) }
    }

    public func aggregate(_ pipeline: [BSONDocument]) async throws -> [BSONDocument] {
        try await client.withConnection { try operations($0).aggregate(pipeline) }
    }

    public func createIndexes(_ indexes: [MongoIndex]) async throws {
        try await client.withConnection { try operations($0).createIndexes(indexes) }
    }

    public func drop() async throws {
        try await client.withConnection { try operations($0).drop() }
    }

    func decode(_ document: BSONDocument) throws -> Document {
        do { return try BSONDecoder().decode(Document.self, from: document) }
        catch { throw MongoError.decoding("\(name): \(error)") }
    }
}

/// The same operations inside a transaction (synchronous: they run on the transaction's thread).
public struct MongoSessionCollection<Document: Codable & Sendable> {
    let operations: CollectionOperations

    public func insert(_ documents: Document...) throws { try insert(contentsOf: documents) }

    /// One insert of many documents (one round trip).
    public func insert(contentsOf documents: [Document]) throws {
        try operations.insert(documents.map { try BSONEncoder().encode($0) })
    }

    public func insertDocument(_ document: BSONDocument) throws { try operations.insert([document]) }

    public func find(_ filter: BSONDocument = [:], options: FindOptions = .init()) throws -> [Document] {
        try operations.find(filter, options).map { try BSONDecoder().decode(Document.self, from: $0) }
    }

    @discardableResult
    public func updateOne(_ filter: BSONDocument, _ update: BSONDocument, upsert: Bool = false) throws -> UpdateResult {
        try operations.update(filter, update, upsert: upsert, many: false)
    }

    @discardableResult
    public func updateMany(_ filter: BSONDocument, _ update: BSONDocument) throws -> UpdateResult {
        try operations.update(filter, update, upsert: false, many: true)
    }

    /// Upserts each (filter, update) pair, all in one bulk write (one round trip).
    @discardableResult
    public func upsertEach(_ statements: [(filter: BSONDocument, update: BSONDocument)]) throws -> (matched: Int, upserted: Int) {
        try operations.upsertEach(statements)
    }

    public func findOneAndUpdate(_ filter: BSONDocument, _ update: BSONDocument, returnNew: Bool = true, upsert: Bool = false) throws -> Document? {
        try operations.findOneAndUpdate(filter, update, sort: nil, returnNew: returnNew, upsert: upsert)
            .map { try BSONDecoder().decode(Document.self, from: $0) }
    }

    @discardableResult
    public func deleteOne(_ filter: BSONDocument) throws -> Int { try operations.delete(filter, many: false) }

    public func count(_ filter: BSONDocument = [:]) throws -> Int { try operations.count(filter) }
}

/// A streaming cursor. It holds one pooled connection until it is exhausted or released.
public final class MongoCursor<Document: Codable & Sendable>: AsyncSequence, @unchecked Sendable {
    public typealias Element = Document
    // @unchecked: the cursor state is only touched from one iterating task at a time, on database threads.
    private let client: MongoClient
    private let collection: String
    private let filter: BSONDocument
    private let options: FindOptions
    private var connection: MongoConnection?
    private var cursor: UncheckedPointer?
    private var buffer: [BSONDocument] = []
    private var exhausted = false

    init(client: MongoClient, collection: String, filter: BSONDocument, options: FindOptions) {
        self.client = client
        self.collection = collection
        self.filter = filter
        self.options = options
    }

    deinit { release() }

    private func release() {
        guard let connection, let cursor else { return }
        self.connection = nil
        self.cursor = nil
        // killCursors is a network call: do it on a database thread.
        client.submit { mongoc_cursor_destroy(cursor.pointer) }
        client.checkin(connection)
    }

    func next() async throws -> Document? {
        if buffer.isEmpty && !exhausted { try await fetch() }
        guard !buffer.isEmpty else { release(); return nil }
        return try BSONDecoder().decode(Document.self, from: buffer.removeFirst())
    }

    private func fetch() async throws {
        if connection == nil {
            let connection = try await client.checkout()
            self.connection = connection
            let (database, name, filter, options) = (client.database, collection, filter, options)
            cursor = try await client.onDatabaseThread {
                UncheckedPointer(try CollectionOperations(client: connection.client, database: database, name: name, session: nil).openCursor(filter, options))
            }
        }
        let cursor = self.cursor!
        let batch = Swift.max(1, options.batchSize ?? 100)
        let (documents, exhausted) = try await client.onDatabaseThread {
            try CollectionOperations.drain(cursor.pointer, limit: batch)
        }
        buffer = documents
        self.exhausted = exhausted
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let cursor: MongoCursor
        public mutating func next() async throws -> Document? { try await cursor.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(cursor: self) }
}
