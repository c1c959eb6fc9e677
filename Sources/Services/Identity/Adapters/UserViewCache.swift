import Foundation
import MarketplaceRedis

/// The API view of users, cached in Redis for the read-mostly `GET /v1/users/me` (MongoDB is the
/// slow part of that request). Writes go through: every change stores the new view or drops it;
/// the TTL bounds what a lost update could leave behind.
struct UserViewCache: Sendable {
    let redis: RedisClient
    let ttl: Duration

    init(redis: RedisClient, ttl: Duration = .seconds(300)) {
        self.redis = redis
        self.ttl = ttl
    }

    private static func key(_ userID: String) -> String { "user-view:\(userID)" }

    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    func get(_ userID: String) async -> UserView? {
        // A cache failure must not fail the request: fall back to the database.
        guard let reply = try? await redis.send("GET", Self.key(userID)), case .bulk(let bytes) = reply else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(UserView.self, from: Data(bytes))
    }

    func put(_ view: UserView) async {
        guard let data = try? Self.encoder.encode(view) else { return }
        _ = try? await redis.set(Self.key(view.id), Array(data), ttl: ttl)
    }

    func drop(_ userID: String) async throws {
        try await redis.delete(Self.key(userID))
    }
}
