/// Verifies an access token and says whether its session is still alive. The Identity module
/// provides it (local JWT verification against its keys + the session store); the HTTP
/// middleware and the realtime gateway use it through this port.
public protocol AccessTokenVerifier: Sendable {
    /// The caller the token stands for; throws `DomainError` (`invalid_token`) when it is not valid.
    func verify(_ token: String) async throws -> Caller
}
