import Crypto
import Foundation
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceRedis

/// Sessions and refresh-token families in Redis.
///
/// `session:<sid>` (hash: user, role, hash of the current refresh token; TTL = refresh lifetime)
/// exists exactly as long as the session's tokens are good: logout, suspension, password reset
/// and refresh-token reuse delete it, and access tokens (checked on every request) stop working
/// at once. `user-sessions:<userId>` lists a user's sessions, to revoke them all.
///
/// With a `cache`, a session confirmed in Redis is taken as standing for up to its `maxAge`
/// without asking again; revocations reach the cache through the feed (this process's own at once).
public struct SessionStore: Sendable {
    let redis: RedisClient
    let refreshLifetime: Duration
    /// Told of every revocation, after the session is gone (live connections end at once).
    let revocations: RedisSessionRevocations
    let cache: LocalIdentityCache?

    init(redis: RedisClient, refreshLifetime: Duration = .seconds(30 * 86_400), cache: LocalIdentityCache? = nil) {
        self.redis = redis
        self.refreshLifetime = refreshLifetime
        self.cache = cache
        revocations = RedisSessionRevocations(redis: redis)
    }

    struct Issued: Sendable {
        var sessionID: String
        var refreshToken: String
    }

    /// Opens a session and its first refresh token (`<sid>.<secret>`).
    func open(userID: String, role: Role) async throws -> Issued {
        let sessionID = Self.randomToken(bytes: 16)
        let refresh = "\(sessionID).\(Self.randomToken(bytes: 32))"
        let ttl = Int(refreshLifetime.components.seconds)
        _ = try await redis.pipeline([
            ["HSET", "session:\(sessionID)", "user", userID, "role", role.rawValue, "refresh", Self.digest(refresh), "created", Int(Date().timeIntervalSince1970)],
            ["EXPIRE", "session:\(sessionID)", ttl],
            ["SADD", "user-sessions:\(userID)", sessionID],
            ["EXPIRE", "user-sessions:\(userID)", ttl],
        ])
        return Issued(sessionID: sessionID, refreshToken: refresh)
    }

    /// Whether the caller's session still stands (every authenticated request asks).
    func isActive(_ caller: Caller) async throws -> Bool {
        guard let cache else { return try await redis.exists("session:\(caller.sessionID)") }
        if cache.remembers(caller.sessionID) { return true }
        let ticket = cache.ticket()
        let standing = try await redis.exists("session:\(caller.sessionID)")
        if standing, let ticket { cache.confirm(caller.sessionID, userID: caller.userID, ticket: ticket) }
        return standing
    }

    /// After the session is deleted: this process forgets it, the feed tells the others, and the
    /// revoking request is answered once every cache has forgotten it too.
    private func announce(_ revocation: SessionRevocation) async {
        guard let cache else { return await revocations.publish(revocation) }
        let deadline = ContinuousClock.now + cache.maxAge
        cache.revoke(revocation)
        await revocations.publish(revocation, notifying: cache, until: deadline)
    }

    enum Rotation: Sendable {
        case rotated(userID: String, role: Role, sessionID: String, refreshToken: String)
        /// A refresh token that was already used: the whole session is revoked (token theft).
        case reused
        case unknown
    }

    /// Swaps the presented refresh token for a new one, atomically (a Lua script), so that two
    /// concurrent refreshes with one token cannot both succeed.
    func rotate(_ presented: String) async throws -> Rotation {
        guard let sessionID = presented.split(separator: ".").first.map(String.init), !sessionID.isEmpty else { return .unknown }
        let next = "\(sessionID).\(Self.randomToken(bytes: 32))"
        let script = """
        local s = redis.call('HGET', KEYS[1], 'refresh')
        if not s then return {0} end
        if s ~= ARGV[1] then local u = redis.call('HGET', KEYS[1], 'user'); redis.call('DEL', KEYS[1]); return {1, u} end
        redis.call('HSET', KEYS[1], 'refresh', ARGV[2])
        redis.call('EXPIRE', KEYS[1], ARGV[3])
        return {2, redis.call('HGET', KEYS[1], 'user'), redis.call('HGET', KEYS[1], 'role')}
        """
        let reply = try await redis.send(["EVAL", script, 1, "session:\(sessionID)", Self.digest(presented), Self.digest(next),
                                          Int(refreshLifetime.components.seconds)])
        guard let values = reply.array, let outcome = values.first?.int else { return .unknown }
        switch outcome {
        case 2:
            guard values.count == 3, let user = values[1].string, let role = values[2].string.flatMap(Role.init(rawValue:)) else { return .unknown }
            return .rotated(userID: user, role: role, sessionID: sessionID, refreshToken: next)
        case 1:
            // The thief's and the owner's connections end alike: the session is gone.
            if values.count == 2, let user = values[1].string { await announce(SessionRevocation(userID: user, sessionID: sessionID)) }
            return .reused
        default: return .unknown
        }
    }

    func revoke(_ sessionID: String, userID: String) async throws {
        try await redis.delete("session:\(sessionID)")
        await announce(SessionRevocation(userID: userID, sessionID: sessionID))
    }

    /// Ends every session of a user (suspension, password reset, deletion).
    func revokeAll(userID: String) async throws {
        let sessions = try await redis.smembers("user-sessions:\(userID)")
        let keys = sessions.map { "session:\($0)" } + ["user-sessions:\(userID)"]
        _ = try await redis.send(["DEL"] + keys)
        await announce(SessionRevocation(userID: userID))
    }

    static func randomToken(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        let data = Data((0..<bytes).map { _ in UInt8.random(in: 0...255, using: &generator) })
        return data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    /// Only digests are stored: a leaked Redis dump does not yield usable refresh tokens.
    static func digest(_ token: String) -> String {
        SHA256.hash(data: Data(token.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
