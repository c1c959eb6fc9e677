import Foundation
import Hummingbird
import MarketplaceContracts

/// An RFC 9457 problem document (`application/problem+json`) with a stable `code` clients can
/// switch on. Every refusal of every service is one of these on the wire: use cases throw
/// `DomainError`, which `ProblemMiddleware` turns into a Problem.
public struct Problem: Error, Codable, Sendable, Equatable {
    public var type: String
    public var title: String
    public var statusCode: Int
    public var code: String
    public var detail: String?
    /// Seconds, for 429 and 503 (also sent as the Retry-After header).
    public var retryAfter: Int?
    /// For 405: the methods the path has (sent as the Allow header, not in the body).
    public var allow: [String]? = nil

    enum CodingKeys: String, CodingKey {
        case type, title, code, detail, retryAfter
        case statusCode = "status"
    }

    public init(status: HTTPResponse.Status, code: String, title: String, detail: String? = nil, retryAfter: Int? = nil) {
        self.type = "https://marketplace.example/problems/\(code)"
        self.title = title
        self.statusCode = status.code
        self.code = code
        self.detail = detail
        self.retryAfter = retryAfter
    }
}

extension Problem {
    /// The HTTP answer to a use case's refusal.
    public init(_ error: DomainError) {
        self.init(status: Self.status(of: error.kind), code: error.code, title: error.title, detail: error.detail, retryAfter: error.retryAfter)
    }

    public static func status(of kind: DomainError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .badRequest: .badRequest
        case .unauthorized: .unauthorized
        case .paymentRequired: .init(code: 402, reasonPhrase: "Payment Required")
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .contentTooLarge: .contentTooLarge
        case .unprocessableContent: .unprocessableContent
        case .tooManyRequests: .tooManyRequests
        case .unavailable: .serviceUnavailable
        }
    }
}

extension Problem: HTTPResponseError {
    public var status: HTTPResponse.Status { .init(code: statusCode) }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        if let allow { headers[.allow] = allow.joined(separator: ", ") }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: try JSONEncoder().encode(self))))
    }
}

/// Turns every error that is not already a Problem into one, so that no handler answers with
/// Hummingbird's plain-text errors or leaks an internal message. Infrastructure failures that a
/// retry may cure (a write conflict that outlasted its retries, a server that does not answer)
/// are 503 `temporarily_unavailable` with Retry-After; unknown errors are 500s with a generic
/// text (and logged).
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let problem as Problem {
            throw problem
        } catch let error as DomainError {
            throw Problem(error)
        } catch let error as HTTPError {
            let code = error.status == .notFound ? "not_found" : error.status == .methodNotAllowed ? "method_not_allowed" : "http_\(error.status.code)"
            throw Problem(status: error.status, code: code, title: error.status.reasonPhrase, detail: error.body)
        } catch where error.isTransientFailure {
            context.logger.warning("transient failure answered 503: \(error)")
            throw Problem(status: .serviceUnavailable, code: "temporarily_unavailable", title: "Try again shortly", retryAfter: 1)
        } catch {
            context.logger.error("unhandled error: \(error)")
            throw Problem(status: .internalServerError, code: "internal_error", title: "Something went wrong")
        }
    }
}
