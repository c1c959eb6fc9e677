import Foundation
import MarketplaceRedis

/// At most `rate` messages per second per user, bursts up to `burst`: a token bucket in Redis
/// (one EVAL, so every API instance shares it). Answers nil when allowed, or how long to wait.
public struct MessageRateLimiter: Sendable {
    let redis: RedisClient
    let rate: Double
    let burst: Double

    public init(redis: RedisClient, rate: Double, burst: Double) {
        self.redis = redis
        self.rate = rate
        self.burst = burst
    }

    // KEYS[1] = bucket; ARGV = rate per ms, burst, now in ms. The bucket keeps tokens and the
    // time it was last filled; it expires once it would be full again (at least a minute later: an
    // expiry measured in wall-clock time must not undo a bucket a caller's clock still sees).
    static let script = """
    local state = redis.call('HMGET', KEYS[1], 't', 'at')
    local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
    local tokens = tonumber(state[1]) or burst
    local at = tonumber(state[2]) or now
    tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
    local wait = 0
    if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) / rate) end
    redis.call('HSET', KEYS[1], 't', tostring(tokens), 'at', tostring(now))
    redis.call('PEXPIRE', KEYS[1], math.max(math.ceil(burst / rate) + 1000, 60000))
    return wait
    """

    /// Takes a token for `userID`; the wait in milliseconds when there is none.
    public func take(_ userID: String, now: Date = Date()) async throws -> Int? {
        let reply = try await redis.send(["EVAL", Self.script, 1, "chat-rate:\(userID)", String(rate / 1_000), String(burst),
                                          String(Int64(now.timeIntervalSince1970 * 1_000))])
        let wait = reply.int ?? 0
        return wait > 0 ? wait : nil
    }
}
