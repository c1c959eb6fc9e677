/// Typed commands. Each maps the reply to a Swift type or throws `unexpectedReply`.
extension RedisClient {
    // MARK: strings and counters

    public func get(_ key: String) async throws -> String? {
        try await send("GET", key).string
    }

    /// SET with an optional TTL; `onlyIfAbsent` is SET NX. Returns whether the value was written.
    @discardableResult
    public func set(_ key: String, _ value: any RedisArgument, ttl: Duration? = nil, onlyIfAbsent: Bool = false) async throws -> Bool {
        var arguments: [any RedisArgument] = ["SET", key, value]
        if let ttl { arguments += ["PX", Int(ttl.components.seconds * 1000 + ttl.components.attoseconds / 1_000_000_000_000_000)] }
        if onlyIfAbsent { arguments.append("NX") }
        return try await send(arguments) != .null
    }

    @discardableResult
    public func delete(_ keys: String...) async throws -> Int {
        try await integer(["DEL"] + keys, "DEL")
    }

    public func exists(_ key: String) async throws -> Bool {
        try await integer(["EXISTS", key], "EXISTS") == 1
    }

    public func increment(_ key: String, by amount: Int = 1) async throws -> Int {
        try await integer(["INCRBY", key, amount], "INCRBY")
    }

    /// Sets a TTL; returns false when the key does not exist.
    @discardableResult
    public func expire(_ key: String, after ttl: Duration) async throws -> Bool {
        try await integer(["PEXPIRE", key, Int(ttl.components.seconds * 1000)], "PEXPIRE") == 1
    }

    /// Remaining TTL in milliseconds; nil when the key has none or does not exist.
    public func ttlMillis(_ key: String) async throws -> Int? {
        let value = try await integer(["PTTL", key], "PTTL")
        return value >= 0 ? value : nil
    }

    /// INCR then PEXPIRE on first increment, in one round trip (fixed-window rate limits).
    public func incrementWithin(_ key: String, window: Duration) async throws -> (count: Int, ttlMillis: Int) {
        let millis = Int(window.components.seconds * 1000)
        let replies = try await pipeline([["INCR", key], ["PEXPIRE", key, millis, "NX"], ["PTTL", key]])
        guard let count = replies[0].int, let ttl = replies[2].int else {
            throw RedisError.unexpectedReply(command: "INCR", reply: "\(replies)")
        }
        return (count, ttl)
    }

    // MARK: hashes

    public func hset(_ key: String, _ fields: [String: String]) async throws {
        guard !fields.isEmpty else { return }
        var arguments: [any RedisArgument] = ["HSET", key]
        for (field, value) in fields.sorted(by: { $0.key < $1.key }) { arguments += [field, value] }
        try await send(arguments)
    }

    public func hget(_ key: String, _ field: String) async throws -> String? {
        try await send("HGET", key, field).string
    }

    public func hgetall(_ key: String) async throws -> [String: String] {
        let values = try await array(["HGETALL", key], "HGETALL")
        var result: [String: String] = [:]
        for index in stride(from: 0, to: values.count - 1, by: 2) {
            if let field = values[index].string, let value = values[index + 1].string { result[field] = value }
        }
        return result
    }

    // MARK: sets

    @discardableResult
    public func sadd(_ key: String, _ members: [String]) async throws -> Int {
        try await integer(["SADD", key] + members, "SADD")
    }

    @discardableResult
    public func srem(_ key: String, _ members: [String]) async throws -> Int {
        try await integer(["SREM", key] + members, "SREM")
    }

    public func smembers(_ key: String) async throws -> Set<String> {
        Set(try await array(["SMEMBERS", key], "SMEMBERS").compactMap(\.string))
    }

    // MARK: sorted sets

    @discardableResult
    public func zadd(_ key: String, _ members: [(member: String, score: Double)]) async throws -> Int {
        var arguments: [any RedisArgument] = ["ZADD", key]
        for entry in members { arguments += [entry.score, entry.member] }
        return try await integer(arguments, "ZADD")
    }

    public func zrangeByScore(_ key: String, min: String = "-inf", max: String = "+inf", limit: Int? = nil) async throws -> [(member: String, score: Double)] {
        var arguments: [any RedisArgument] = ["ZRANGEBYSCORE", key, min, max, "WITHSCORES"]
        if let limit { arguments += ["LIMIT", 0, limit] }
        let values = try await array(arguments, "ZRANGEBYSCORE")
        return stride(from: 0, to: values.count - 1, by: 2).compactMap { index in
            guard let member = values[index].string, let score = values[index + 1].double else { return nil }
            return (member, score)
        }
    }

    @discardableResult
    public func zrem(_ key: String, _ members: [String]) async throws -> Int {
        try await integer(["ZREM", key] + members, "ZREM")
    }

    // MARK: geo

    @discardableResult
    public func geoadd(_ key: String, _ points: [(member: String, longitude: Double, latitude: Double)]) async throws -> Int {
        var arguments: [any RedisArgument] = ["GEOADD", key]
        for point in points { arguments += [point.longitude, point.latitude, point.member] }
        return try await integer(arguments, "GEOADD")
    }

    public struct GeoMatch: Sendable, Hashable {
        public var member: String
        public var distanceKm: Double
    }

    /// GEOSEARCH FROMLONLAT BYRADIUS ... ASC WITHDIST: members within `radiusKm`, nearest first.
    public func geosearch(_ key: String, longitude: Double, latitude: Double, radiusKm: Double, limit: Int? = nil) async throws -> [GeoMatch] {
        var arguments: [any RedisArgument] = ["GEOSEARCH", key, "FROMLONLAT", longitude, latitude, "BYRADIUS", radiusKm, "km", "ASC"]
        if let limit { arguments += ["COUNT", limit] }
        arguments.append("WITHDIST")
        return try await array(arguments, "GEOSEARCH").compactMap { entry in
            guard let pair = entry.array, pair.count == 2, let member = pair[0].string, let distance = pair[1].double else { return nil }
            return GeoMatch(member: member, distanceKm: distance)
        }
    }

    // MARK: streams

    public struct StreamEntry: Sendable, Hashable {
        public var id: String
        public var fields: [String: String]
    }

    /// XADD with an approximate MAXLEN cap; returns the entry id.
    @discardableResult
    public func xadd(_ key: String, maxLength: Int? = nil, id: String = "*", fields: [(String, String)]) async throws -> String {
        var arguments: [any RedisArgument] = ["XADD", key]
        if let maxLength { arguments += ["MAXLEN", "~", maxLength] }
        arguments.append(id)
        for (field, value) in fields { arguments += [field, value] }
        guard let entryID = try await send(arguments).string else {
            throw RedisError.unexpectedReply(command: "XADD", reply: "nil")
        }
        return entryID
    }

    public func xrange(_ key: String, from start: String = "-", to end: String = "+", count: Int? = nil) async throws -> [StreamEntry] {
        var arguments: [any RedisArgument] = ["XRANGE", key, start, end]
        if let count { arguments += ["COUNT", count] }
        return Self.streamEntries(try await array(arguments, "XRANGE"))
    }

    public func xrevrange(_ key: String, from end: String = "+", to start: String = "-", count: Int? = nil) async throws -> [StreamEntry] {
        var arguments: [any RedisArgument] = ["XREVRANGE", key, end, start]
        if let count { arguments += ["COUNT", count] }
        return Self.streamEntries(try await array(arguments, "XREVRANGE"))
    }

    public func xlen(_ key: String) async throws -> Int {
        try await integer(["XLEN", key], "XLEN")
    }

    // MARK: pub/sub

    /// Returns the number of subscribers that received the message.
    @discardableResult
    public func publish(_ channel: String, _ message: any RedisArgument) async throws -> Int {
        try await integer(["PUBLISH", channel, message], "PUBLISH")
    }

    public func ping() async throws -> Bool {
        try await send("PING").string == "PONG"
    }

    // MARK: helpers

    private func integer(_ arguments: [any RedisArgument], _ name: String) async throws -> Int {
        let reply = try await send(arguments)
        guard case .integer(let value) = reply else { throw RedisError.unexpectedReply(command: name, reply: "\(reply)") }
        return value
    }

    private func array(_ arguments: [any RedisArgument], _ name: String) async throws -> [RedisValue] {
        let reply = try await send(arguments)
        if reply == .null { return [] }
        guard case .array(let values) = reply else { throw RedisError.unexpectedReply(command: name, reply: "\(reply)") }
        return values
    }

    private static func streamEntries(_ values: [RedisValue]) -> [StreamEntry] {
        values.compactMap { entry in
            guard let parts = entry.array, parts.count == 2, let id = parts[0].string, let flat = parts[1].array else { return nil }
            var fields: [String: String] = [:]
            for index in stride(from: 0, to: flat.count - 1, by: 2) {
                if let field = flat[index].string, let value = flat[index + 1].string { fields[field] = value }
            }
            return StreamEntry(id: id, fields: fields)
        }
    }
}
