import Foundation
import MarketplaceContracts
import MarketplaceRedis

/// Failed logins counted in Redis per account and per client address, in a fixed window.
/// Past the limit a login is refused with 429 and Retry-After, even with the right password.
public struct LoginThrottle: Sendable {
    let redis: RedisClient
    let limit: Int
    let window: Duration

    public init(redis: RedisClient, limit: Int = 5, window: Duration = .seconds(15 * 60)) {
        self.redis = redis
        self.limit = limit
        self.window = window
    }

    private func keys(email: String, address: String) -> [String] {
        ["login-failures:account:\(email)", "login-failures:address:\(address)"]
    }

    /// Seconds until another attempt is allowed, or nil when it is allowed now.
    func retryAfter(email: String, address: String) async throws -> Int? {
        let keys = keys(email: email, address: address)
        let replies = try await redis.pipeline(keys.flatMap { [["GET", $0], ["PTTL", $0]] as [[any RedisArgument]] })
        for index in stride(from: 0, to: replies.count, by: 2) {
            // The address limit is looser: many people can share one address (NAT).
            let max = index == 0 ? limit : limit * 4
            if let count = replies[index].int, count >= max, let ttl = replies[index + 1].int, ttl > 0 {
                return (ttl + 999) / 1000
            }
        }
        return nil
    }

    func recordFailure(email: String, address: String) async throws {
        for key in keys(email: email, address: address) {
            _ = try await redis.incrementWithin(key, window: window)
        }
    }

    func reset(email: String) async throws {
        try await redis.delete("login-failures:account:\(email)")
    }
}
