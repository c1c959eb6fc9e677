import Foundation
import MarketplaceContracts
import MarketplaceRedis

/// Per-channel history in Redis streams, the source of recovery.
///
/// - `rt:history:<channel>` (stream): entry id `<offset>-0`, fields `e` (event id), `d` (data),
///   `u`/`c` (publisher); trimmed to `maxLength` entries; expires `ttl` after the last publication.
/// - `rt:epoch:<channel>`: the stream's epoch, same lifetime. When the stream is lost (expired,
///   Redis flushed) a new epoch starts and clients holding the old one get `recovered: false`.
///
/// Offsets are the Kafka offsets (+1) of the channel's partition: every gateway node appends the
/// record it consumes, and appending an id that is already there is a no-op, so N nodes write
/// one entry and all agree on offsets without coordinating. Offsets grow but are not contiguous
/// (other channels share the partition); "nothing missed" is decided with the stream's
/// `max-deleted-entry-id`, not by counting.
public struct ChannelHistory: Sendable {
    let redis: RedisClient
    public let maxLength: Int
    public let ttl: Duration

    public init(redis: RedisClient, maxLength: Int = 100, ttl: Duration = .seconds(600)) {
        self.redis = redis
        self.maxLength = maxLength
        self.ttl = ttl
    }

    static func streamKey(_ channel: String) -> String { "rt:history:\(channel)" }
    static func epochKey(_ channel: String) -> String { "rt:epoch:\(channel)" }

    static let appendScript = """
    local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
    if #top > 0 then
      local topOffset = tonumber(string.match(top[1][1], '^(%d+)'))
      if tonumber(ARGV[1]) <= topOffset then return 0 end
    end
    redis.call('SET', KEYS[2], ARGV[7], 'NX')
    redis.call('XADD', KEYS[1], 'MAXLEN', '=', ARGV[5], ARGV[1] .. '-0', 'e', ARGV[2], 'd', ARGV[3], 'u', ARGV[4], 'c', ARGV[8])
    redis.call('PEXPIRE', KEYS[1], ARGV[6])
    redis.call('PEXPIRE', KEYS[2], ARGV[6])
    return 1
    """

    /// Appends publications in one round trip (the fan-out reader's batch), in order. An offset
    /// that is already there (or below the stream's top) is skipped: every node appends the
    /// records it consumes. `epoch` is only used by a channel whose stream starts here.
    public func append(_ entries: [(channel: String, eventID: String, publication: Publication)]) async throws {
        guard !entries.isEmpty else { return }
        let epoch = Self.newEpoch(), maxLength = String(maxLength), ttl = String(ttl.milliseconds)
        let replies = try await redis.pipeline(entries.map { entry -> [any RedisArgument] in
            ["EVAL", Self.appendScript, 2, Self.streamKey(entry.channel), Self.epochKey(entry.channel),
             String(entry.publication.offset), entry.eventID, entry.publication.data, entry.publication.info?.user ?? "",
             maxLength, ttl, epoch, entry.publication.info?.client ?? ""]
        })
        for case .error(let message) in replies { throw RedisError.server(message) }
    }

    public struct Position: Sendable, Equatable {
        public var offset: UInt64
        public var epoch: String
    }

    public struct Recovery: Sendable {
        public var position: Position
        public var publications: [Publication]
        public var recovered: Bool
    }

    /// Epoch, last offset, highest trimmed offset, then entries after `since` (up to `limit`).
    static let readScript = """
    local epoch = redis.call('GET', KEYS[2])
    if not epoch then
      epoch = ARGV[3]
      redis.call('SET', KEYS[2], epoch, 'PX', ARGV[4])
    end
    if redis.call('EXISTS', KEYS[1]) == 0 then return {epoch, '0', '0'} end
    local info = redis.call('XINFO', 'STREAM', KEYS[1])
    local last, deleted = '0-0', '0-0'
    for i = 1, #info, 2 do
      if info[i] == 'last-generated-id' then last = info[i + 1] end
      if info[i] == 'max-deleted-entry-id' then deleted = info[i + 1] end
    end
    local result = {epoch, string.match(last, '^(%d+)'), string.match(deleted, '^(%d+)')}
    if tonumber(ARGV[2]) > 0 then
      local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1] .. '-0', '+', 'COUNT', ARGV[2])
      for _, entry in ipairs(entries) do
        local fields = {}
        for j = 1, #entry[2], 2 do fields[entry[2][j]] = entry[2][j + 1] end
        table.insert(result, string.match(entry[1], '^(%d+)'))
        table.insert(result, fields['d'] or 'null')
        table.insert(result, fields['u'] or '')
        table.insert(result, fields['c'] or '')
      end
    end
    return result
    """

    private func read(_ channel: String, after offset: UInt64, limit: Int) async throws -> (Position, trimmedUpTo: UInt64, [Publication]) {
        let reply = try await redis.send(["EVAL", Self.readScript, 2, Self.streamKey(channel), Self.epochKey(channel),
                                          String(offset), String(limit), Self.newEpoch(), String(ttl.milliseconds)])
        if case .error(let message) = reply { throw RedisError.server(message) }
        guard let items = reply.array, items.count >= 3 else { throw RedisError.unexpectedReply(command: "EVAL history", reply: "\(reply)") }
        let position = Position(offset: UInt64(items[1].string ?? "0") ?? 0, epoch: items[0].string ?? "")
        var publications: [Publication] = []
        var index = 3
        while index + 3 < items.count {
            let user = items[index + 2].string ?? "", client = items[index + 3].string ?? ""
            publications.append(Publication(offset: UInt64(items[index].string ?? "0") ?? 0,
                                            data: items[index + 1].bytes ?? Array("null".utf8),
                                            info: user.isEmpty ? nil : ClientInfo(user: user, client: client)))
            index += 4
        }
        return (position, UInt64(items[2].string ?? "0") ?? 0, publications)
    }

    /// The stream's current position (offset 0 when nothing was published yet).
    public func position(_ channel: String) async throws -> Position {
        try await read(channel, after: 0, limit: 0).0
    }

    /// What a client that saw everything up to `offset` in `epoch` missed. `recovered` is true
    /// only when the epoch is the same and nothing after `offset` was trimmed or cut by `limit`.
    public func recover(_ channel: String, since offset: UInt64, epoch: String, limit: Int = 1000) async throws -> Recovery {
        let (position, trimmedUpTo, publications) = try await read(channel, after: offset, limit: limit + 1)
        guard epoch == position.epoch, trimmedUpTo <= offset, publications.count <= limit else {
            return Recovery(position: position, publications: [], recovered: false)
        }
        return Recovery(position: position, publications: publications, recovered: true)
    }

    /// The newest `limit` publications (oldest first), or those after `since` when given.
    public func history(_ channel: String, limit: Int, since: Position?) async throws -> (Position, [Publication]) {
        if let since {
            let (position, _, publications) = try await read(channel, after: since.offset, limit: limit)
            return (position, since.epoch == position.epoch ? publications : [])
        }
        let position = try await self.position(channel)
        guard limit > 0 else { return (position, []) }
        let entries = try await redis.send(["XREVRANGE", Self.streamKey(channel), "+", "-", "COUNT", String(limit)]).array ?? []
        return (position, entries.reversed().compactMap(Self.publication(fromEntry:)))
    }

    /// A stream entry (`[id, [field, value, ...]]`) as a publication.
    static func publication(fromEntry entry: RedisValue) -> Publication? {
        guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let fields = parts[1].array,
              let offset = id.split(separator: "-").first.flatMap({ UInt64($0) }) else { return nil }
        var values: [String: RedisValue] = [:]
        for index in stride(from: 0, to: fields.count - 1, by: 2) {
            if let name = fields[index].string { values[name] = fields[index + 1] }
        }
        let user = values["u"]?.string ?? ""
        return Publication(offset: offset, data: values["d"]?.bytes ?? Array("null".utf8),
                           info: user.isEmpty ? nil : ClientInfo(user: user, client: values["c"]?.string ?? ""))
    }

    static func newEpoch() -> String { String(UUID().uuidString.prefix(8)).lowercased() }
}

extension Duration {
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
