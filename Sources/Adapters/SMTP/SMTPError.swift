import MarketplaceContracts

/// Why a message was not accepted. `rejected` with a 4yz code, a connection that failed or timed
/// out are transient (retry later); a 5yz rejection is permanent (a bad address: do not retry).
public enum SMTPError: Error, Sendable, CustomStringConvertible, TransientFailure {
    case connection(String)
    case timeout
    case rejected(command: String, reply: SMTPReply)
    case protocolViolation(String)
    case tlsUnavailable

    public var isTransient: Bool {
        switch self {
        case .connection, .timeout: true
        case .rejected(_, let reply): reply.isTransient
        case .protocolViolation, .tlsUnavailable: false
        }
    }

    public var description: String {
        switch self {
        case .connection(let detail): "SMTP connection failed: \(detail)"
        case .timeout: "SMTP server did not answer in time"
        case .rejected(let command, let reply): "SMTP \(command) refused: \(reply.code) \(reply.text)"
        case .protocolViolation(let detail): "SMTP protocol violation: \(detail)"
        case .tlsUnavailable: "SMTP server does not offer STARTTLS, which is required"
        }
    }
}
