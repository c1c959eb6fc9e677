/// A refusal of a use case, independent of the transport: the HTTP layer maps it to an
/// `application/problem+json` answer (the kind to a status, `code` as the stable code clients
/// switch on), the realtime gateway to a protocol error. Domain code throws only these.
public struct DomainError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// The input cannot be read (400).
        case badRequest
        /// No or no valid credentials (401).
        case unauthorized
        /// Payment is needed or was refused (402).
        case paymentRequired
        /// The caller may not do this (403).
        case forbidden
        /// No such thing, or not visible to the caller (404).
        case notFound
        /// The current state does not allow it (409).
        case conflict
        /// The input is too large (413).
        case contentTooLarge
        /// Well-formed input with a value that is refused (422).
        case unprocessableContent
        /// Too many attempts; `retryAfter` says when to come back (429).
        case tooManyRequests
        /// A dependency does not answer (503).
        case unavailable
    }

    public var kind: Kind
    public var code: String
    public var title: String
    public var detail: String?
    /// Seconds, for `tooManyRequests` and `unavailable`.
    public var retryAfter: Int?

    public init(kind: Kind, code: String, title: String, detail: String? = nil, retryAfter: Int? = nil) {
        self.kind = kind
        self.code = code
        self.title = title
        self.detail = detail
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code): \(title)\(detail.map { " (\($0))" } ?? "")" }

    public static func badRequest(_ code: String, _ detail: String) -> DomainError {
        DomainError(kind: .badRequest, code: code, title: "The request is invalid", detail: detail)
    }
    public static func validation(_ detail: String) -> DomainError {
        DomainError(kind: .unprocessableContent, code: "validation_failed", title: "A field is invalid", detail: detail)
    }
    public static let unauthorized = DomainError(kind: .unauthorized, code: "unauthorized", title: "Authentication is required")
    public static func invalidToken(_ detail: String) -> DomainError {
        DomainError(kind: .unauthorized, code: "invalid_token", title: "The access token is not valid", detail: detail)
    }
    public static let forbidden = DomainError(kind: .forbidden, code: "forbidden", title: "Not allowed")
    public static func notFound(_ what: String) -> DomainError {
        DomainError(kind: .notFound, code: "not_found", title: "Not found", detail: what)
    }
    /// A query parameter that cannot be used; the detail starts with its name.
    public static func invalidParameter(_ name: String, _ expected: String) -> DomainError {
        DomainError(kind: .badRequest, code: "invalid_parameter", title: "A query parameter is invalid", detail: "\(name): \(expected)")
    }
    public static func conflict(_ code: String, _ detail: String) -> DomainError {
        DomainError(kind: .conflict, code: code, title: "Conflict", detail: detail)
    }
}
