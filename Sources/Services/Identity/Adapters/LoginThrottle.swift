import Foundation
import MarketplaceContracts
import MarketplaceRedis

/// Failed logins counted in Redis in a fixed window, after OWASP's device-cookie scheme, so that
/// guessing is slowed without letting one address (a carrier NAT, an office) lock others out:
/// - a login that presents a **device token** this account was given at an earlier successful
///   login (a known device) is limited only by that device's own failures;
/// - any other login (an unknown device) is limited per account and per client address.
/// Past a limit a login is refused with 429 and Retry-After, even with the right password. An
/// attacker without the victim's device token stays throttled; the victim's known devices do not.
public struct LoginThrottle: Sendable {
    let redis: RedisClient
    let limit: Int
    let window: Duration
    /// How long a device stays known without logging in again.
    let deviceLifetime: Duration

    public init(redis: RedisClient, limit: Int = 5, window: Duration = .seconds(15 * 60), deviceLifetime: Duration = .seconds(180 * 86_400)) {
        self.redis = redis
        self.limit = limit
        self.window = window
        self.deviceLifetime = deviceLifetime
    }

    /// Whose failures a login attempt counts against.
    enum Client: Sendable {
        /// A device token issued to this account: only its own failures count.
        case knownDevice(digest: String)
        case unknown(address: String)
    }

    /// A known device when `deviceToken` was issued to `email` (and not locked out), else unknown.
    func client(email: String, address: String, deviceToken: String?) async throws -> Client {
        guard let deviceToken, !deviceToken.isEmpty, deviceToken.count <= 200 else { return .unknown(address: address) }
        let digest = SessionStore.digest(deviceToken)
        guard try await redis.get("login-device:\(digest)") == email else { return .unknown(address: address) }
        return .knownDevice(digest: digest)
    }

    /// Counter keys with their limits. The address limit is looser: many people share one address.
    private func counters(email: String, client: Client) -> [(key: String, limit: Int)] {
        switch client {
        case .knownDevice(let digest): [("login-failures:device:\(digest)", limit)]
        case .unknown(let address): [("login-failures:account:\(email)", limit), ("login-failures:address:\(address)", limit * 4)]
        }
    }

    /// Seconds until another attempt is allowed, or nil when it is allowed now.
    func retryAfter(email: String, client: Client) async throws -> Int? {
        let counters = counters(email: email, client: client)
        let replies = try await redis.pipeline(counters.flatMap { [["GET", $0.key], ["PTTL", $0.key]] as [[any RedisArgument]] })
        for (index, counter) in counters.enumerated() {
            if let count = replies[2 * index].int, count >= counter.limit, let ttl = replies[2 * index + 1].int, ttl > 0 {
                return (ttl + 999) / 1000
            }
        }
        return nil
    }

    func recordFailure(email: String, client: Client) async throws {
        for counter in counters(email: email, client: client) {
            _ = try await redis.incrementWithin(counter.key, window: window)
        }
    }

    /// After a successful login: the account's unknown-device counter starts afresh, and the
    /// device is (still) known. Returns the device token to present next time: the one it
    /// presented (kept for another lifetime), or a new one.
    func succeeded(email: String, client: Client, presented: String?) async throws -> String {
        try await redis.delete("login-failures:account:\(email)")
        if case .knownDevice(let digest) = client, let presented {
            _ = try await redis.send(["EXPIRE", "login-device:\(digest)", Int(deviceLifetime.components.seconds)])
            return presented
        }
        return try await newDevice(email: email)
    }

    /// The account's unknown-device counter starts afresh (a password reset).
    func reset(email: String) async throws {
        try await redis.delete("login-failures:account:\(email)")
    }

    /// A device token for `email` (a registration is a successful first login too).
    func newDevice(email: String) async throws -> String {
        let token = "dev_" + SessionStore.randomToken(bytes: 24)
        try await redis.set("login-device:\(SessionStore.digest(token))", email, ttl: deviceLifetime)
        return token
    }
}
