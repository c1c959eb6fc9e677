import Foundation
import MarketplaceContracts
import MarketplaceRedis

/// The API view of users, cached in Redis as the exact JSON of `GET /v1/users/me` (MongoDB and
/// re-encoding are the slow parts of that request). Writes go through: every change stores the
/// new view or drops it; the TTL bounds what a lost update could leave behind.
struct UserViewCache: Sendable {
    let redis: RedisClient
    let ttl: Duration

    init(redis: RedisClient, ttl: Duration = .seconds(300)) {
        self.redis = redis
        self.ttl = ttl
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
        guard let reply = try? await redis.send("GET", Self.key(userID)), case .bulk(let bytes) = reply else { return nil }
        return bytes
    }

    /// Stores the view; returns its JSON.
    @discardableResult
    func put(_ view: UserView) async -> [UInt8]? {
        guard let json = try? Self.encode(view) else { return nil }
        _ = try? await redis.set(Self.key(view.id), json, ttl: ttl)
        return json
    }

    func drop(_ userID: String) async throws {
        try await redis.delete(Self.key(userID))
    }
}
