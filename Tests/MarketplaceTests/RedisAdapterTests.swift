import Foundation
import MarketplaceRedis
import Testing

@Suite("Redis adapter against redis-server", .timeLimit(.minutes(2)))
struct RedisAdapterTests {
    let redis = TestServers.redis()
    let prefix = TestServers.unique("t")

    @Test("strings with TTL, counters with expiry, deletes")
    func stringsAndCounters() async throws {
        let set = ContinuousClock.now
        #expect(try await redis.set("\(prefix):s", "value", ttl: .seconds(30)))
        #expect(try await redis.get("\(prefix):s") == "value")
        let ttl = try #require(try await redis.ttlMillis("\(prefix):s"))
        // At most what has passed since the SET has run off (a loaded machine can stall for seconds).
        let passed = Int((ContinuousClock.now - set) / .milliseconds(1))
        #expect(ttl <= 30_000 && ttl >= 30_000 - passed - 50, "ttl \(ttl) ms after \(passed) ms")
        #expect(try await !redis.set("\(prefix):s", "other", onlyIfAbsent: true), "NX must not overwrite")
        #expect(try await redis.increment("\(prefix):n") == 1)
        #expect(try await redis.increment("\(prefix):n", by: 4) == 5)
        #expect(try await redis.expire("\(prefix):n", after: .seconds(10)))
        let window = try await redis.incrementWithin("\(prefix):rate", window: .seconds(60))
        let again = try await redis.incrementWithin("\(prefix):rate", window: .seconds(60))
        #expect(window.count == 1 && again.count == 2 && again.ttlMillis > 0)
        #expect(try await redis.delete("\(prefix):s", "\(prefix):n") == 2)
        #expect(try await redis.get("\(prefix):s") == nil)
    }

    @Test("hashes, sets and sorted sets")
    func collections() async throws {
        try await redis.hset("\(prefix):h", ["name": "Ana", "rating": "4.9"])
        #expect(try await redis.hgetall("\(prefix):h") == ["name": "Ana", "rating": "4.9"])
        #expect(try await redis.hget("\(prefix):h", "rating") == "4.9")
        #expect(try await redis.sadd("\(prefix):set", ["a", "b", "c"]) == 3)
        #expect(try await redis.srem("\(prefix):set", ["b"]) == 1)
        #expect(try await redis.smembers("\(prefix):set") == ["a", "c"])
        try await redis.zadd("\(prefix):z", [("p1", 30), ("p2", 10), ("p3", 20)])
        let ranked = try await redis.zrangeByScore("\(prefix):z", min: "15")
        #expect(ranked.map(\.member) == ["p3", "p1"])
        #expect(ranked.map(\.score) == [20, 30])
    }

    @Test("GEOADD and GEOSEARCH find providers nearest first, within the radius")
    func geo() async throws {
        let key = "\(prefix):geo"
        // Lisbon centre, a point ~1.1 km north, one ~5.6 km away, and Porto (~274 km).
        try await redis.geoadd(key, [("near", -9.1393, 38.7223), ("north", -9.1393, 38.7323),
                                     ("far", -9.2000, 38.7500), ("porto", -8.6291, 41.1579)])
        let within2 = try await redis.geosearch(key, longitude: -9.1393, latitude: 38.7223, radiusKm: 2)
        #expect(within2.map(\.member) == ["near", "north"])
        #expect(abs(within2[1].distanceKm - 1.11) < 0.05)
        let within10 = try await redis.geosearch(key, longitude: -9.1393, latitude: 38.7223, radiusKm: 10, limit: 2)
        #expect(within10.map(\.member) == ["near", "north"])
        let all = try await redis.geosearch(key, longitude: -9.1393, latitude: 38.7223, radiusKm: 500)
        #expect(all.map(\.member) == ["near", "north", "far", "porto"])
    }

    @Test("streams: XADD with MAXLEN, XRANGE, XREVRANGE")
    func streams() async throws {
        let key = "\(prefix):stream"
        var ids: [String] = []
        for index in 0..<10 {
            ids.append(try await redis.xadd(key, fields: [("seq", String(index)), ("data", "payload-\(index)")]))
        }
        let forward = try await redis.xrange(key)
        #expect(forward.map(\.id) == ids)
        #expect(forward.map { $0.fields["seq"] } == (0..<10).map(String.init))
        let backward = try await redis.xrevrange(key, count: 3)
        #expect(backward.map { $0.fields["seq"] } == ["9", "8", "7"])
        let after = try await redis.xrange(key, from: "(\(ids[6])")
        #expect(after.map { $0.fields["seq"] } == ["7", "8", "9"])
        // An exact cap: MAXLEN = keeps the newest entries only.
        _ = try await redis.send("XADD", key, "MAXLEN", "=", 5, "*", "seq", "10")
        #expect(try await redis.xlen(key) == 5)
        #expect(try await redis.xrange(key).first?.fields["seq"] == "6")
    }

    @Test("PUBLISH reaches a SUBSCRIBE on another connection")
    func pubSub() async throws {
        let channel = "\(prefix):chan"
        let subscription = try redis.subscribe([channel])
        await subscription.waitUntilSubscribed()
        #expect(try await redis.publish(channel, "hello") == 1)
        try await redis.publish(channel, "world")
        let messages = try await subscription.collect(2, timeout: .seconds(10))
        #expect(messages.map(\.text) == ["hello", "world"])
        #expect(messages.allSatisfy { $0.channel == channel })
        subscription.cancel()
    }

    @Test("pipelines answer in order; a server error is typed and does not poison the pipeline")
    func pipelineAndErrors() async throws {
        let replies = try await redis.pipeline([["SET", "\(prefix):p", "1"], ["INCR", "\(prefix):p"], ["LPUSH", "\(prefix):p", "x"], ["GET", "\(prefix):p"]])
        #expect(replies[0] == .status("OK"))
        #expect(replies[1] == .integer(2))
        if case .error(let message) = replies[2] { #expect(message.hasPrefix("WRONGTYPE")) } else { Issue.record("expected WRONGTYPE") }
        #expect(replies[3].string == "2")
        await #expect(throws: RedisError.self) { try await redis.send("LPUSH", "\(prefix):p", "x") }
    }

    @Test("an unreachable server is a typed connection error")
    func unreachable() async throws {
        let client = TestServers.redis(port: 1)
        await #expect(throws: RedisError.self) { try await client.ping() }
        await client.shutdown()
    }

    @Test("the client recovers when the server restarts mid-test")
    func recoversAfterRestart() async throws {
        let server = try await RedisProcess.start()
        defer { server.stop() }
        let client = TestServers.redis(port: server.port)
        try await client.set("k", "before")
        #expect(try await client.get("k") == "before")
        let subscription = try client.subscribe(["events"])
        await subscription.waitUntilSubscribed()

        server.stop()
        await #expect(throws: RedisError.self) { try await client.get("k") }
        try await server.restart()

        // Pooled connections are stale; the first command after the restart reconnects.
        #expect(try await eventually(timeout: .seconds(10)) { (try? await client.set("k", "after")) == true })
        #expect(try await client.get("k") == "after")
        // The subscription reconnects and subscribes again by itself.
        #expect(try await eventually(timeout: .seconds(10)) { (try? await client.publish("events", "back")) == 1 })
        let message = try await subscription.collect(1, timeout: .seconds(5))
        #expect(message.first?.text == "back")
        subscription.cancel()
        await client.shutdown()
    }
}

/// A redis-server of the test's own, so restarting it disturbs no other test.
/// Spawned with posix_spawn and killed with SIGKILL + waitpid (no Foundation.Process: it needs
/// a run loop to reap children).
final class RedisProcess: @unchecked Sendable {
    let port: Int
    private var pid: pid_t = 0

    private init(port: Int) { self.port = port }

    static func start() async throws -> RedisProcess {
        let server = RedisProcess(port: Int.random(in: 20_000...29_999))
        try await server.restart()
        return server
    }

    func restart() async throws {
        let arguments = ["redis-server", "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawnp(&child, "redis-server", nil, nil, &argv, environ)
        guard status == 0 else { throw RedisError.connection("cannot spawn redis-server: \(status)") }
        pid = child
        let deadline = Date().addingTimeInterval(5)
        while Date() < deadline {
            if TCPProbe.accepts(port: port) { return }
            try await Task.sleep(for: .milliseconds(50))  // not usleep: that holds a cooperative thread
        }
        throw RedisError.connection("redis-server on \(port) did not start")
    }

    func stop() {
        guard pid > 0 else { return }
        // SIGKILL: a crash, and it cannot be blocked (a child spawned from a Swift thread may
        // inherit a signal mask that holds SIGTERM back).
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        pid = 0
    }
}

enum TCPProbe {
    /// Whether something accepts a TCP connection on 127.0.0.1:port.
    static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return result == 0
    }
}
