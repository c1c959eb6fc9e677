import Foundation
import Hummingbird
import MarketplaceContracts

/// The one authorization middleware of every service: a `Bearer` token, when present, must be
/// valid (signature, `kid`, audience, expiry, live session); routes then ask the context for
/// the caller and the roles they accept. Requests without a token pass through as anonymous.
public struct AuthMiddleware: RouterMiddleware {
    public typealias Context = AppRequestContext
    let verifier: any AccessTokenVerifier

    public init(verifier: any AccessTokenVerifier) { self.verifier = verifier }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else { return try await next(request, context) }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw DomainError.invalidToken("expected 'Authorization: Bearer <token>'")
        }
        var context = context
        context.caller = try await verifier.verify(String(parts[1]))
        return try await next(request, context)
    }
}
