import CMongoc
import Foundation
import Logging
import NIOPosix
import Synchronization

public struct MongoConfiguration: Sendable {
    /// Retryable writes are off by default: SecantusDB slows sharply with them (see ENVIRONMENT.md);
    /// socketTimeoutMS bounds a hung server.
    public var uri: String
    public var database: String
    /// Pooled connections, and threads that run blocking libmongoc calls.
    public var poolSize: Int

    public init(uri: String = "mongodb://127.0.0.1:27017/?retryWrites=false&connectTimeoutMS=2000&socketTimeoutMS=10000&serverSelectionTimeoutMS=5000",
                database: String = "marketplace", poolSize: Int = 8) {
        self.uri = uri
        self.database = database
        self.poolSize = poolSize
    }
}

private let mongocLogger = Logger(label: "mongoc")

/// A pooled libmongoc client. libmongoc blocks, so every operation runs on a thread of a
/// private pool (as many threads as pooled clients), never on the cooperative pool.
public final class MongoClient: @unchecked Sendable {
    // @unchecked: mongoc_client_pool_t is thread-safe; a popped mongoc_client_t is used by one thread.
    private let pool: OpaquePointer
    private let uri: OpaquePointer
    private let threads: NIOThreadPool
    private let closed = Mutex(false)
    public let configuration: MongoConfiguration
    public var database: String { configuration.database }

    private static let initialize: Void = {
        mongoc_init()
        // libmongoc logs to stderr by default (DEBUG lines for every failed heartbeat): keep
        // only warnings and errors, and send them through swift-log.
        mongoc_log_set_handler({ level, domain, message, _ in
            guard level.rawValue <= MONGOC_LOG_LEVEL_WARNING.rawValue, let message else { return }
            let text = String(cString: message)
            let domainText = domain.map { String(cString: $0) } ?? "mongoc"
            mongocLogger.log(level: level.rawValue <= MONGOC_LOG_LEVEL_CRITICAL.rawValue ? .error : .warning, "\(domainText): \(text)")
        }, nil)
    }()

    public init(configuration: MongoConfiguration = .init()) throws {
        _ = Self.initialize
        self.configuration = configuration
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(configuration.uri, &error) else {
            throw MongoError.invalidConfiguration("uri '\(configuration.uri)': \(MongoError(error))")
        }
        guard let pool = mongoc_client_pool_new(uri) else {
            mongoc_uri_destroy(uri)
            throw MongoError.invalidConfiguration("cannot create a client pool for '\(configuration.uri)'")
        }
        mongoc_client_pool_set_error_api(pool, 2)
        mongoc_client_pool_set_appname(pool, "marketplace")
        mongoc_client_pool_max_size(pool, UInt32(max(1, configuration.poolSize)))
        self.uri = uri
        self.pool = pool
        threads = NIOThreadPool(numberOfThreads: max(1, configuration.poolSize))
        threads.start()
    }

    /// Stops the threads and releases the pool. Operations after this throw `.closed`.
    public func shutdown() async {
        guard closed.withLock({ let was = $0; $0 = true; return !was }) else { return }
        try? await threads.shutdownGracefully()
        mongoc_client_pool_destroy(pool)
        mongoc_uri_destroy(uri)
    }

    public func collection<Document: Codable & Sendable>(_ name: String, as type: Document.Type = Document.self) -> MongoCollection<Document> {
        MongoCollection(client: self, name: name)
    }

    /// Answers once the server answers a ping.
    public func ping() async throws {
        try await withConnection { connection in
            let command = NativeDocument(["ping": 1])
            let reply = NativeDocument()
            var error = bson_error_t()
            guard mongoc_client_command_simple(connection.client, "admin", command.pointer, nil, reply.pointer, &error) else {
                throw MongoError(error)
            }
        }
    }

    /// Runs `body` in a transaction: committed if it returns, aborted if it throws. `body` runs on
    /// a database thread and uses the session's synchronous operations. A transaction that loses
    /// a write conflict to a concurrent one is retried (up to `maxAttempts`), as MongoDB's drivers
    /// do for TransientTransactionError: `body` must therefore be safe to run again.
    public func withTransaction<T: Sendable>(maxAttempts: Int = 8, _ body: @escaping @Sendable (MongoSession) throws -> T) async throws -> T {
        try await withConnection { connection in
            var attempt = 1
            while true {
                do {
                    return try Self.runTransaction(connection, database: self.database, body)
                } catch let error as MongoError where error.isTransientTransactionError && attempt < maxAttempts {
                    attempt += 1
                    // Jittered, growing backoff: two transactions that keep aborting each other
                    // (both retrying at once) must drift apart. On a database thread.
                    usleep(UInt32.random(in: 1_000...(10_000 * UInt32(attempt))))
                }
            }
        }
    }

    private static func runTransaction<T>(_ connection: MongoConnection, database: String, _ body: (MongoSession) throws -> T) throws -> T {
        var error = bson_error_t()
        guard let session = mongoc_client_start_session(connection.client, nil, &error) else { throw MongoError(error) }
        defer { mongoc_client_session_destroy(session) }
        guard mongoc_client_session_start_transaction(session, nil, &error) else { throw MongoError(error) }
        let handle = MongoSession(connection: connection, session: session, database: database)
        do {
            let result = try body(handle)
            let reply = NativeDocument()
            guard mongoc_client_session_commit_transaction(session, reply.pointer, &error) else { throw MongoError(error) }
            return result
        } catch {
            var abortError = bson_error_t()
            _ = mongoc_client_session_abort_transaction(session, &abortError)
            throw error
        }
    }

    /// Pops a pooled client on a database thread, runs `body`, pushes it back.
    func withConnection<T: Sendable>(_ body: @escaping @Sendable (MongoConnection) throws -> T) async throws -> T {
        guard !closed.withLock({ $0 }) else { throw MongoError.closed }
        let pool = UncheckedPointer(self.pool)
        return try await threads.runIfActive {
            let client = mongoc_client_pool_pop(pool.pointer)!
            defer { mongoc_client_pool_push(pool.pointer, client) }
            return try body(MongoConnection(client: client))
        }
    }

    /// Holds a pooled client across several hops (a streaming cursor).
    func checkout() async throws -> MongoConnection {
        guard !closed.withLock({ $0 }) else { throw MongoError.closed }
        let pool = UncheckedPointer(self.pool)
        return try await threads.runIfActive { MongoConnection(client: mongoc_client_pool_pop(pool.pointer)!) }
    }

    func checkin(_ connection: MongoConnection) {
        let pool = UncheckedPointer(self.pool)
        threads.submit { _ in mongoc_client_pool_push(pool.pointer, connection.client) }
    }

    func onDatabaseThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await threads.runIfActive(body)
    }

    func submit(_ body: @escaping @Sendable () -> Void) { threads.submit { _ in body() } }
}

/// A client popped from the pool, used by one thread at a time.
struct MongoConnection: @unchecked Sendable {
    let client: OpaquePointer
}

struct UncheckedPointer: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

/// A transaction's session: synchronous operations that all take part in the transaction.
public struct MongoSession: @unchecked Sendable {
    let connection: MongoConnection
    let session: OpaquePointer
    let database: String

    public func collection<Document: Codable & Sendable>(_ name: String, as type: Document.Type = Document.self) -> MongoSessionCollection<Document> {
        MongoSessionCollection(operations: CollectionOperations(client: connection.client, database: database, name: name, session: session))
    }
}
