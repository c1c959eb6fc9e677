/// What speaks one channel's protocol (SNS push, SMTP, SNS SMS): sends one rendered request.
/// Throws a transient failure (retried with backoff) or any other error (recorded, not retried).
public protocol ChannelSender: Sendable {
    var channel: NotificationChannel { get }
    func send(_ request: SendRequest) async throws -> SendOutcome
}

public enum SendOutcome: Sendable, Equatable {
    /// Accepted by the provider or server, with its message id.
    case sent(providerMessageID: String?)
    /// Nothing was sent, for a reason that retrying does not change (no device, a cap).
    case skipped(String)
}

/// A permanent refusal that says why (an address the server rejects, every device disabled).
public struct PermanentDeliveryFailure: Error, CustomStringConvertible {
    public var reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Where devices' push tokens become endpoints (SNS platform endpoints): registering a token
/// again answers its endpoint, enabled.
public protocol PushEndpointRegistry: Sendable {
    func register(platform: Device.Platform, token: String, userID: String) async throws -> String
    func unregister(endpoint: String) async throws
}
