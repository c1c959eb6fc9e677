import MarketplaceContracts
/// Error and disconnect codes of the Centrifugo client protocol, with the meanings the SDKs give
/// them: errors 100-112 answer one command; disconnect codes 3000-3499 let the client reconnect,
/// 3500-3999 are terminal (reconnecting cannot help); unsubscribe codes below 2500 are terminal.
public struct ProtocolError: Error, Sendable, Equatable {
    public var code: Int
    public var message: String
    public var temporary: Bool

    public init(_ code: Int, _ message: String, temporary: Bool = false) {
        self.code = code
        self.message = message
        self.temporary = temporary
    }

    public static let `internal` = ProtocolError(100, "internal server error", temporary: true)
    public static let unauthorized = ProtocolError(101, "unauthorized")
    public static let unknownChannel = ProtocolError(102, "unknown channel")
    public static let permissionDenied = ProtocolError(103, "permission denied")
    public static let methodNotFound = ProtocolError(104, "method not found")
    public static let alreadySubscribed = ProtocolError(105, "already subscribed")
    public static let limitExceeded = ProtocolError(106, "limit exceeded")
    public static let badRequest = ProtocolError(107, "bad request")
    public static let notAvailable = ProtocolError(108, "not available")
    public static let tokenExpired = ProtocolError(109, "token expired")
    public static let tooManyRequests = ProtocolError(111, "too many requests", temporary: true)
    /// A publish on `chat:` that is not a typing indicator: messages go through REST, stored first.
    public static let chatPublishRefused = ProtocolError(107, #"bad request: send chat messages with POST /v1/conversations/{jobId}/messages; publish on chat: carries only {"type":"typing"}"#)
}

public struct Disconnect: Sendable, Equatable {
    public var code: UInt16
    public var reason: String

    public var reconnect: Bool { !(3500..<4000).contains(code) && !(4500..<5000).contains(code) }

    public static let shutdown = Disconnect(code: 3001, reason: "shutdown")
    public static let serverError = Disconnect(code: 3004, reason: "internal server error")
    public static let expired = Disconnect(code: 3005, reason: "connection expired")
    public static let slow = Disconnect(code: 3008, reason: "slow")
    public static let noPong = Disconnect(code: 3012, reason: "no pong")
    public static let tooManyRequests = Disconnect(code: 3013, reason: "too many requests")
    public static let invalidToken = Disconnect(code: 3500, reason: "invalid token")
    public static let badRequest = Disconnect(code: 3501, reason: "bad request")
    public static let stale = Disconnect(code: 3502, reason: "stale")
    public static let messageTooLarge = Disconnect(code: 3501, reason: "message too large")
}

/// Why a subscription ended from the server side (unsubscribe push).
public enum UnsubscribeCode {
    /// Access ended (the job completed or was cancelled): terminal, the SDK does not resubscribe.
    public static let server = 2000
}
