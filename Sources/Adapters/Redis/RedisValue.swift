import MarketplaceContracts
/// A RESP2 reply.
public enum RedisValue: Sendable, Hashable {
    case bulk([UInt8])
    case status(String)
    case integer(Int)
    case array([RedisValue])
    case null
    case error(String)

    public var string: String? {
        switch self {
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        case .status(let text): text
        case .integer(let value): String(value)
        default: nil
        }
    }

    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .bulk, .status: string.flatMap { Int($0) }
        default: nil
        }
    }

    public var bytes: [UInt8]? { if case .bulk(let bytes) = self { bytes } else { nil } }
    public var double: Double? { string.flatMap { Double($0) } }
    public var array: [RedisValue]? { if case .array(let values) = self { values } else { nil } }
    public var isNull: Bool { self == .null }
}

/// Something that can be a command argument.
public protocol RedisArgument: Sendable {
    var redisBytes: [UInt8] { get }
}

extension String: RedisArgument { public var redisBytes: [UInt8] { Array(utf8) } }
extension Substring: RedisArgument { public var redisBytes: [UInt8] { Array(utf8) } }
extension Int: RedisArgument { public var redisBytes: [UInt8] { Array(String(self).utf8) } }
extension Double: RedisArgument { public var redisBytes: [UInt8] { Array(String(self).utf8) } }
extension Array: RedisArgument where Element == UInt8 { public var redisBytes: [UInt8] { self } }

/// Errors of the Redis adapter.
public enum RedisError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The server could not be reached or the connection broke.
    case connection(String)
    /// The server answered with an error reply (e.g. WRONGTYPE).
    case server(String)
    /// The reply did not have the shape the command promises.
    case unexpectedReply(command: String, reply: String)
    /// The client was shut down.
    case closed

    public var description: String {
        switch self {
        case .connection(let message): "Redis connection error: \(message)"
        case .server(let message): "Redis error: \(message)"
        case .unexpectedReply(let command, let reply): "unexpected Redis reply to \(command): \(reply)"
        case .closed: "Redis client is closed"
        }
    }
}

extension RedisError: TransientFailure {
    /// A lost or refused connection: the same command can succeed later.
    public var isTransient: Bool { if case .connection = self { true } else { false } }
}
