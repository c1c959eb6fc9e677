import Foundation
import HummingbirdBcrypt
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo
import MarketplaceRedis
import NIOPosix
import Synchronization

/// The verifier every service's AuthMiddleware uses: a valid token of a live session.
public struct IdentityTokenVerifier: AccessTokenVerifier {
    let tokens: TokenService
    let sessions: SessionStore
    let verified: VerifiedTokenCache

    public init(service: IdentityService) {
        tokens = service.tokens
        sessions = service.sessions
        verified = service.verifiedTokens
    }

    public func verify(_ token: String) async throws -> Caller {
        let caller: Caller
        if let known = verified.caller(for: token) {
            caller = known
        } else {
            let claims = try await tokens.verify(token)
            guard let role = Role(rawValue: claims.role) else { throw DomainError.invalidToken("unknown role") }
            caller = Caller(userID: claims.sub.value, role: role, sessionID: claims.sid)
            verified.remember(token, caller: caller, until: claims.exp.value)
        }
        // The token is remembered until it expires; its session is not: revocations end it at once.
        guard try await sessions.isActive(caller) else { throw DomainError.invalidToken("the session has ended") }
        return caller
    }
}
