import Foundation
import MarketplaceContracts
import MarketplaceRedis

/// Who is subscribed to a channel, across gateway nodes, in Redis:
/// `rt:presence:<channel>` (hash client id → user id) and `rt:presence-exp:<channel>` (sorted set
/// client id → expiry time). Nodes refresh their subscribers' entries well within the TTL; a node
/// that dies stops refreshing and its entries age out.
public struct PresenceStore: Sendable {
    let redis: RedisClient
    public let ttl: TimeInterval

    public init(redis: RedisClient, ttl: TimeInterval = 60) {
        self.redis = redis
        self.ttl = ttl
    }

    static func hashKey(_ channel: String) -> String { "rt:presence:\(channel)" }
    static func expiryKey(_ channel: String) -> String { "rt:presence-exp:\(channel)" }

    /// Adds or refreshes entries; one pipeline for many (channel, client) pairs.
    public func touch(_ entries: [(channel: String, info: ClientInfo)], now: Date = Date()) async throws {
        guard !entries.isEmpty else { return }
        let expiry = now.timeIntervalSince1970 + ttl
        var commands: [[any RedisArgument]] = []
        for entry in entries {
            commands.append(["HSET", Self.hashKey(entry.channel), entry.info.client, entry.info.user])
            commands.append(["ZADD", Self.expiryKey(entry.channel), expiry, entry.info.client])
            commands.append(["EXPIRE", Self.hashKey(entry.channel), Int(ttl) * 2])
            commands.append(["EXPIRE", Self.expiryKey(entry.channel), Int(ttl) * 2])
        }
        _ = try await redis.pipeline(commands)
    }

    public func remove(channel: String, client: String) async throws {
        _ = try await redis.pipeline([["HDEL", Self.hashKey(channel), client], ["ZREM", Self.expiryKey(channel), client]])
    }

    static let listScript = """
    local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1])
    for _, client in ipairs(expired) do
      redis.call('HDEL', KEYS[1], client)
      redis.call('ZREM', KEYS[2], client)
    end
    return redis.call('HGETALL', KEYS[1])
    """

    /// The channel's live subscribers (expired entries are dropped on the way).
    public func list(_ channel: String, now: Date = Date()) async throws -> [ClientInfo] {
        let reply = try await redis.send(["EVAL", Self.listScript, 2, Self.hashKey(channel), Self.expiryKey(channel), now.timeIntervalSince1970])
        if case .error(let message) = reply { throw RedisError.server(message) }
        let items = reply.array ?? []
        return stride(from: 0, to: items.count - 1, by: 2).compactMap { index in
            guard let client = items[index].string, let user = items[index + 1].string else { return nil }
            return ClientInfo(user: user, client: client)
        }
    }
}
