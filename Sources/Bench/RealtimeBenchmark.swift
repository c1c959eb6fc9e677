import Foundation
import Logging
import MarketplaceContracts
import MarketplaceKafka
import MarketplaceRealtime
import Synchronization

/// Load for the realtime gateway, from a separate process (the gateway runs as
/// `marketplace worker realtime-gateway`): connections held and the gateway's RSS per
/// connection, deliveries per second with N subscribers on one channel, and end-to-end latency
/// (Kafka produce → client receipt) at a fixed publication rate. The same run measures the
/// ceiling for latency: the same records produced and read back by a bare Kafka consumer.
///
/// The clients (LoadClients: bare NIO channels) never parse JSON: they count `"pub":` lines and
/// read the send time from the data's `"t":` field, so that the load tool is not the bottleneck.
public struct RealtimeBenchmark: Sendable {
    public var url: String
    public var token: String
    public var channel: String
    public var brokers: String
    public var topic: String
    public var gatewayPID: Int32?
    /// A running `bench fanout-ceiling` server, measured after each throughput run.
    public var ceilingURL: String?

    public init(url: String, token: String, channel: String, brokers: String, topic: String, gatewayPID: Int32?, ceilingURL: String? = nil) {
        self.ceilingURL = ceilingURL
        self.url = url
        self.token = token
        self.channel = channel
        self.brokers = brokers
        self.topic = topic
        self.gatewayPID = gatewayPID
    }

    /// One pass over a frame, no allocation per line: counts `"pub":` pushes, reads their `"t":`
    /// send times when sampling, notices the subscribe reply and `{}` pings.
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>, sampling: Bool, timeField: StaticString = "\"t\":") -> (pubs: Int, pings: Int, subscribed: Bool, sent: [Int64]) {
        var pubs = 0, pings = 0, subscribed = false
        var sent: [Int64] = []
        var lineStart = 0
        var index = 0
        let count = bytes.count
        func matches(_ pattern: StaticString, at position: Int) -> Bool {
            let length = pattern.utf8CodeUnitCount
            guard position + length <= count else { return false }
            let p = pattern.utf8Start
            for k in 0..<length where bytes[position + k] != p[k] { return false }
            return true
        }
        while index <= count {
            if index == count || bytes[index] == 0x0A {
                if index - lineStart == 2 && bytes[lineStart] == 0x7B && bytes[lineStart + 1] == 0x7D { pings += 1 }
                lineStart = index + 1
            } else if bytes[index] == 0x22 {
                if matches("\"pub\":", at: index) {
                    pubs += 1
                    if sampling, let t = (index..<count).first(where: { matches(timeField, at: $0) }) {
                        var value: Int64 = 0, k = t + timeField.utf8CodeUnitCount
                        while k < count, bytes[k] >= 0x30, bytes[k] <= 0x39 { value = value * 10 + Int64(bytes[k] - 0x30); k += 1 }
                        sent.append(value)
                    }
                } else if !subscribed, matches("\"id\":2,", at: index) {
                    subscribed = true
                }
            }
            index += 1
        }
        return (pubs, pings, subscribed, sent)
    }

    static func number(after needle: String, in line: some Collection<UInt8>) -> Int64? {
        let bytes = Array(line), pattern = Array(needle.utf8)
        guard bytes.count > pattern.count else { return nil }
        for start in 0...(bytes.count - pattern.count) where Array(bytes[start..<(start + pattern.count)]) == pattern {
            var value: Int64 = 0, index = start + pattern.count
            while index < bytes.count, bytes[index] >= 0x30, bytes[index] <= 0x39 { value = value * 10 + Int64(bytes[index] - 0x30); index += 1 }
            return value
        }
        return nil
    }

    func rssKiB() -> Int? {
        guard let pid = gatewayPID, let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        return status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }?.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }

    static func percentile(_ sorted: [Int64], _ p: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))]) / 1000
    }

    /// The Kafka ceiling: a bare consumer of the fan-out topic (a group of its own, at the end;
    /// the same fetch settings as the gateway's consumer), once assigned.
    func bareConsumer(_ client: KafkaClientConfiguration) async throws -> KafkaConsumer {
        let bare = try KafkaConsumer(configuration: KafkaConsumerConfiguration(client: client, groupID: "bench-\(UUID().uuidString.prefix(8))",
                                                                                topics: [topic], autoOffsetReset: .latest, fetchWaitMaxMillis: 10, gatherMillis: 0))
        _ = await waitUntil({ !bare.assignment.isEmpty }, timeout: .seconds(30))
        return bare
    }

    func message(_ filler: String, sentMicros: Int64? = nil, channel: String? = nil) -> KafkaOutgoingMessage {
        let sent = sentMicros ?? Int64(Date().timeIntervalSince1970 * 1_000_000)
        return RealtimeBus.message(.publication, channel: channel ?? self.channel, data: Array(#"{"t":\#(sent)\#(filler)}"#.utf8), info: nil, topic: topic)
    }

    // MARK: the three measurements

    /// Connections held: opens them all, prints the gateway's RSS growth per connection, keeps
    /// them open for `hold` (while another load process connects to another node).
    public func connections(_ count: Int, hold: Duration = .zero) async throws {
        let before = rssKiB()
        let clients = try LoadClients(url: url, token: token, channel: channel)
        let counters = clients.counters
        let start = ContinuousClock.now
        await clients.open(count, sampleEvery: Int.max)
        let ok = await waitUntil({ counters.connected.load(ordering: .relaxed) >= count }, timeout: .seconds(300))
        let elapsed = ContinuousClock.now - start
        try? await Task.sleep(for: .seconds(2))
        let after = rssKiB()
        var line = "connections: \(counters.connected.load(ordering: .relaxed))/\(count) subscribed in \(elapsed)\(ok ? "" : " (timed out)")"
        if let before, let after {
            line += String(format: "; gateway RSS %.1f → %.1f MiB, %.1f KiB per connection", Double(before) / 1024, Double(after) / 1024,
                           Double(after - before) / Double(max(1, count)))
        }
        FileHandle.standardOutput.write(Data((line + "\n").utf8))  // unbuffered: the script waits for it
        try? await Task.sleep(for: hold)  // (other load processes may still be connecting)
        await clients.closeAll()
    }

    /// Deliveries per second: `publications` published as fast as possible to `subscribers`.
    /// The ceiling in the same run: how long a bare Kafka consumer takes to receive the same
    /// records (publications reach the gateway no faster than that).
    public func throughput(subscribers: Int, publications: Int) async throws -> String {
        let client = KafkaClientConfiguration(bootstrapServers: brokers, clientID: "bench")
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client, lingerMillis: 5))
        _ = try? await producer.send(message(#","warmup":true"#, sentMicros: 0))  // connected before the clock starts
        let bare = try await bareConsumer(client)
        let clients = try LoadClients(url: url, token: token, channel: channel)
        let counters = clients.counters
        await clients.open(subscribers, sampleEvery: Int.max)
        guard await waitUntil({ counters.connected.load(ordering: .relaxed) >= subscribers }, timeout: .seconds(120)) else {
            await clients.closeAll()
            return "throughput: only \(counters.connected.load(ordering: .relaxed)) of \(subscribers) subscribed"
        }
        let expected = subscribers * publications
        let phaseStart = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let bareDone = Mutex<ContinuousClock.Instant?>(nil)
        let reader = Task {
            var received = 0
            for await record in bare.records {
                guard let sent = Self.number(after: "\"t\":", in: record.value), sent >= phaseStart else { continue }
                received += 1
                if received == publications { bareDone.withLock { $0 = .now } }
            }
        }
        let start = ContinuousClock.now
        try await producer.sendBatch((0..<publications).map { _ in message(#","lat":38.7,"lng":-9.1"#) })
        let complete = await waitUntil({ counters.deliveries.load(ordering: .relaxed) >= expected }, timeout: .seconds(300))
        let seconds = (ContinuousClock.now - start).seconds
        let delivered = counters.deliveries.load(ordering: .relaxed)
        _ = await waitUntil({ bareDone.withLock { $0 } != nil }, timeout: .seconds(30))
        let bareSeconds = bareDone.withLock { $0 }.map { ($0 - start).seconds } ?? .nan
        await clients.closeAll()
        bare.stopDelivery()
        await bare.close()
        reader.cancel()
        await producer.close()
        var line = String(format: "throughput: %d subscribers × %d publications: %d deliveries in %.2f s = %.0f deliveries/s%@; " +
                          "a bare Kafka consumer received the %d records in %.3f s",
                          subscribers, publications, delivered, seconds, Double(delivered) / seconds, complete ? "" : " (incomplete)",
                          publications, bareSeconds)
        if let ceiling = try await ceiling(subscribers: subscribers, publications: publications) {
            line += String(format: "; bare NIO fan-out ceiling %.0f deliveries/s, ratio %.2fx", ceiling, Double(delivered) / seconds / ceiling)
        }
        return line
    }

    /// The bare NIO fan-out server's deliveries/s to the same number of clients (see FanOutCeiling).
    func ceiling(subscribers: Int, publications: Int) async throws -> Double? {
        guard let ceilingURL else { return nil }
        let clients = try LoadClients(url: ceilingURL, token: "", channel: "", hello: "ceiling:\(subscribers)")
        let counters = clients.counters
        await clients.open(subscribers, sampleEvery: Int.max)
        let expected = subscribers * publications
        let complete = await waitUntil({ counters.deliveries.load(ordering: .relaxed) >= expected }, timeout: .seconds(120))
        let end = ContinuousClock.now
        await clients.closeAll()
        guard complete, let start = counters.allSubscribedAt.withLock({ $0 }) else { return nil }
        return Double(expected) / (end - start).seconds
    }

    /// End-to-end latency at a fixed rate, sampled on a share of the subscribers, against the
    /// same records' Kafka produce → bare consumer latency (the ceiling).
    ///
    /// `channels` (other users' channels, with their tokens) spread the rate over several
    /// channels — hence Kafka partitions — as many providers' positions would be; the
    /// subscribers are divided among them. Empty: everything on the benchmark's one channel.
    /// `dump` writes the raw samples (µs, in arrival order) to `<dump>.gateway` and `<dump>.bare`.
    public func latency(subscribers: Int, rate: Int, seconds: Int, lingerMillis: Int = 0,
                        channels extra: [(token: String, channel: String)] = [], dump: String? = nil) async throws -> String {
        let targets = extra.isEmpty ? [(token: token, channel: channel)] : extra
        let perChannel = max(1, subscribers / targets.count)
        var groups: [LoadClients] = []
        for target in targets {
            let clients = try LoadClients(url: url, token: target.token, channel: target.channel)
            await clients.open(perChannel, sampleEvery: max(1, perChannel / 50))
            groups.append(clients)
        }
        let connected = { groups.reduce(0) { $0 + $1.counters.connected.load(ordering: .relaxed) } }
        guard await waitUntil({ connected() >= perChannel * targets.count }, timeout: .seconds(120)) else {
            for clients in groups { await clients.closeAll() }
            return "latency: only \(connected()) of \(perChannel * targets.count) subscribed"
        }
        let client = KafkaClientConfiguration(bootstrapServers: brokers, clientID: "bench")
        let bare = try await bareConsumer(client)
        try? await Task.sleep(for: .seconds(1))
        let bareLatencies = Mutex<[Int64]>([])
        // The producer connects, fetches metadata and gets its producer id before the timed
        // phase: its first records would otherwise wait for that (an artefact of starting it here).
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client, lingerMillis: lingerMillis))
        for target in targets { _ = try? await producer.send(message(#","warmup":true"#, sentMicros: 0, channel: target.channel)) }
        try? await Task.sleep(for: .seconds(1))
        let phaseStart = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let reader = Task {
            for await record in bare.records {
                let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
                // Only this phase's records (Tansu may hand a new group older ones).
                if let sent = Self.number(after: "\"t\":", in: record.value), sent >= phaseStart { bareLatencies.withLock { $0.append(now - sent) } }
            }
        }
        let interval = Duration.nanoseconds(1_000_000_000 / max(1, rate))
        var next = ContinuousClock.now
        for index in 0..<(rate * seconds) {
            next += interval
            try? await Task.sleep(until: next)
            let channel = targets[index % targets.count].channel
            Task { _ = try? await producer.send(message(#","lat":38.7,"lng":-9.1"#, channel: channel)) }
        }
        try? await Task.sleep(for: .seconds(2))
        for clients in groups { await clients.closeAll() }
        let samples = groups.flatMap { $0.counters.latencies.withLock { $0 } }
        bare.stopDelivery()
        await bare.close()
        reader.cancel()
        await producer.close()
        if let dump {
            let a = samples.map(String.init).joined(separator: "\n")
            try? a.write(toFile: dump + ".gateway", atomically: true, encoding: .utf8)
            let b = bareLatencies.withLock { $0 }.map(String.init).joined(separator: "\n")
            try? b.write(toFile: dump + ".bare", atomically: true, encoding: .utf8)
        }
        let ours = samples.filter { $0 >= 0 && $0 < 3_600_000_000 }.sorted()  // (warm-up records say t = 0)
        let ceiling = bareLatencies.withLock { $0 }.sorted()
        return String(format: "latency at %d pub/s on %d channel(s) × %d subscribers (%d samples, linger.ms %d): p50 %.1f ms, p99 %.1f ms; bare Kafka consumer: p50 %.1f ms, p99 %.1f ms",
                      rate, targets.count, perChannel * targets.count, ours.count, lingerMillis, Self.percentile(ours, 0.5), Self.percentile(ours, 0.99),
                      Self.percentile(ceiling, 0.5), Self.percentile(ceiling, 0.99))
    }
}
