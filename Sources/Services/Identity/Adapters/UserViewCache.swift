import Foundation
import MarketplaceContracts
import MarketplaceRedis

/// The API view of users, cached in Redis as the exact JSON of `GET /v1/users/me` (MongoDB and
/// re-encoding are the slow parts of that request). Writes go through: every change stores the
/// new view or drops it; the TTL bounds what a lost update could leave behind. With a `local`
/// cache, views read from Redis are also kept in the process for the cache's age, and a change is
/// answered once every process's cache has forgotten the old view.
struct UserViewCache: Sendable {
    let redis: RedisClient
    let ttl: Duration
    let local: LocalIdentityCache?
    let notices: RedisSessionRevocations

    init(redis: RedisClient, ttl: Duration = .seconds(300), local: LocalIdentityCache? = nil) {
        self.redis = redis
        self.ttl = ttl
        self.local = local
        notices = RedisSessionRevocations(redis: redis)
    }

    private static func key(_ userID: String) -> String { "user-view:\(userID)" }

    /// The same encoding as the API's JSON responses.
    static func encode(_ view: UserView) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        return Array(try encoder.encode(view))
    }

    /// The cached JSON; nil on a miss or when Redis fails (the database answers instead).
    func json(_ userID: String) async -> [UInt8]? {
        if let remembered = local?.rememberedView(userID) { return remembered }
        let ticket = local?.ticket()
        guard let reply = try? await redis.send("GET", Self.key(userID)), case .bulk(let bytes) = reply else { return nil }
        if let ticket { local?.keepView(userID, json: bytes, ticket: ticket) }
        return bytes
    }

    /// Stores a view read from the database after a miss; returns its JSON.
    @discardableResult
    func put(_ view: UserView) async -> [UInt8]? {
        guard let json = try? Self.encode(view) else { return nil }
        _ = try? await redis.set(Self.key(view.id), json, ttl: ttl)
        return json
    }

    /// Stores a changed view, and returns once no process serves the old one.
    func changed(_ view: UserView) async {
        await put(view)
        await announce(view.id)
    }

    /// Drops a view, and returns once no process serves it.
    func drop(_ userID: String) async throws {
        try await redis.delete(Self.key(userID))
        await announce(userID)
    }

    private func announce(_ userID: String) async {
        guard let local else { return }
        let deadline = ContinuousClock.now + local.maxAge
        local.forgetView(userID)
        await notices.announceViewChange(userID, cache: local, until: deadline)
    }
}
