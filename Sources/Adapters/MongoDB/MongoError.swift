import CMongoc
import MarketplaceContracts

/// Every failure the MongoDB adapter reports; none of them crash the process.
public enum MongoError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A unique index refused the write (server code 11000): a conflict, not a fault.
    case duplicateKey(String)
    /// The server did not answer in time (socket timeout, server selection, maxTimeMS).
    case timeout(String)
    /// The server could not be reached or the connection broke.
    case network(String)
    /// Any other error the server or driver reported.
    case server(code: Int, message: String)
    case invalidConfiguration(String)
    /// A document did not decode into the expected type.
    case decoding(String)
    case closed

    public var description: String {
        switch self {
        case .duplicateKey(let message): "MongoDB duplicate key: \(message)"
        case .timeout(let message): "MongoDB timeout: \(message)"
        case .network(let message): "MongoDB network error: \(message)"
        case .server(let code, let message): "MongoDB error \(code): \(message)"
        case .invalidConfiguration(let message): "invalid MongoDB configuration: \(message)"
        case .decoding(let message): "MongoDB document did not decode: \(message)"
        case .closed: "MongoDB client is closed"
        }
    }

    public var isDuplicateKey: Bool { if case .duplicateKey = self { true } else { false } }

    /// A transaction aborted by a concurrent one (WriteConflict 112, NoSuchTransaction 251,
    /// LockTimeout 24): running it again is the remedy.
    public var isTransientTransactionError: Bool {
        if case .server(let code, _) = self { return [112, 251, 24].contains(code) }
        return false
    }

    init(_ error: bson_error_t) {
        let message = withUnsafeBytes(of: error.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        switch (error.domain, error.code) {
        case (_, 11000), (_, 11001), (_, 12582): self = .duplicateKey(message)
        case (_, 50): self = .timeout(message)  // MaxTimeMSExpired
        case (UInt32(MONGOC_ERROR_SERVER_SELECTION.rawValue), _):
            self = message.contains("timed out") || message.contains("No suitable servers") ? .timeout(message) : .network(message)
        case (UInt32(MONGOC_ERROR_STREAM.rawValue), _):
            self = message.contains("timed out") || message.contains("timeout") ? .timeout(message) : .network(message)
        default: self = .server(code: Int(error.code), message: message)
        }
    }
}

extension MongoError: TransientFailure {
    /// Write conflicts, timeouts and lost connections: the same work can succeed later.
    public var isTransient: Bool {
        switch self {
        case .timeout, .network: true
        case .server: isTransientTransactionError
        case .duplicateKey, .invalidConfiguration, .decoding, .closed: false
        }
    }
}
