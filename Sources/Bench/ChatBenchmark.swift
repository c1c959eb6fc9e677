import AsyncHTTPClient
import CMongoc
import Foundation
import Hummingbird
import Logging
import MarketplaceChat
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceIdentity
import MarketplaceKafka
import MarketplacePlatform
import MarketplaceRealtime
import NIOCore
import ServiceLifecycle
import Synchronization

/// Chat under load, in one process with its real servers: the API (Identity + Chat routes), the
/// outbox relay and a gateway node (chat's publications are in its outbox). Measures
///  - message send (REST, 201) → the other member's WebSocket, at a fixed rate spread over N
///    conversations, beside the floor: a bare Kafka consumer of the same `chat.message-sent`
///    records (send → commit → relay → Kafka → consumer), so the figure above the floor is what
///    the fan-out topic and the gateway add;
///  - a history page (`limit=50`) over HTTP beside a raw libmongoc find of the same documents,
///    and a bare route (`/health/live`) through the same HTTP client.
///
/// The jobs are the benchmark's own (`BenchJobDirectory` stands in for Dispatch behind the
/// `JobAccessDirectory` port): this measures chat, not matching.
public struct ChatBenchmark: Sendable {
    public var platform: Platform
    public var conversations: Int
    public var rate: Int
    public var seconds: Int
    public var pages: Int
    public var apiPort: Int
    public var gatewayPort: Int

    public init(platform: Platform, conversations: Int, rate: Int, seconds: Int, pages: Int, apiPort: Int = 18_280, gatewayPort: Int = 18_281) {
        self.platform = platform
        self.conversations = conversations
        self.rate = rate
        self.seconds = seconds
        self.pages = pages
        self.apiPort = apiPort
        self.gatewayPort = gatewayPort
    }

    /// Jobs as the benchmark made them: client i and provider i share job i.
    struct BenchJobDirectory: JobAccessDirectory {
        let jobs: [String: JobAccess]
        func access(toJob id: String) async throws -> JobAccess? { jobs[id] }
    }

    struct Pair: Sendable { var job: String; var client: IdentityService.TokenPair; var provider: IdentityService.TokenPair }

    public func run() async throws -> [String] {
        var lines: [String] = []
        let ports = Ports()
        let identity = try await IdentityModule(context: ModuleContext(platform: platform, module: IdentityModule.name, ports: ports))
        try await identity.prepare()
        var pairs: [Pair] = [], jobs: [String: JobAccess] = [:]
        try await withThrowingTaskGroup(of: Pair.self) { group in
            for index in 0..<conversations {
                group.addTask {
                    func user(_ role: String) async throws -> IdentityService.TokenPair {
                        try await identity.service.register(email: "bench-\(role)-\(index)-\(UUID().uuidString.prefix(6).lowercased())@example.com",
                                                            password: "correct horse battery", name: "Bench", role: role, traceparent: nil)
                    }
                    let client = try await user("client"), provider = try await user("provider")
                    return Pair(job: "bench-job-\(UUID().uuidString.prefix(12).lowercased())", client: client, provider: provider)
                }
            }
            for try await pair in group { pairs.append(pair) }
        }
        for pair in pairs {
            jobs[pair.job] = JobAccess(clientId: pair.client.user.id, providerId: pair.provider.user.id, status: .assigned, statusChangedAt: Date())
        }
        ports.provide((any JobAccessDirectory).self, BenchJobDirectory(jobs: jobs), by: "bench")
        let realtime = try RealtimeModule(context: ModuleContext(platform: platform, module: RealtimeModule.name, ports: ports),
                                          configuration: RealtimeConfiguration(host: "127.0.0.1", port: gatewayPort, nodeID: "bench-\(UUID().uuidString.prefix(6))"))
        let chat = try await ChatModule(context: ModuleContext(platform: platform, module: ChatModule.name, ports: ports))
        let composition = Composition(platform: platform, built: [identity, realtime, chat], ports: ports)
        try await composition.prepare()
        for topic in platform.topics.names([.chatMessages, .realtimePublications]) { try await platform.admin.ensureTopic(topic, partitions: 4) }

        let api = Application(router: try composition.makeRouter(api: true),
                              configuration: .init(address: .hostname("127.0.0.1", port: apiPort), serverName: "bench"))
        let gateway = realtime.makeGateway()
        let services: [any Service] = [api, gateway] + (try composition.workerServices([Composition.outboxRelay]))
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [], logger: Logger(label: "bench")))
        let running = Task { try await group.run() }
        defer { running.cancel() }
        guard await waitUntil({ gateway.isReady }, timeout: .seconds(60)) else { throw BenchError("the gateway did not get ready") }

        let base = "http://127.0.0.1:\(apiPort)"
        let http = HTTPClient.shared
        func send(_ pair: Pair, text: String) async -> Int {
            var request = HTTPClientRequest(url: "\(base)/v1/conversations/\(pair.job)/messages")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer \(pair.client.accessToken)")
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: #"{"clientMessageId":"\#(UUID().uuidString)","text":"\#(text)"}"#))
            guard let response = try? await http.execute(request, timeout: .seconds(10)) else { return 0 }
            return Int(response.status.code)
        }

        // The other member of each conversation listens on the conversation's channel.
        let url = "ws://127.0.0.1:\(gatewayPort)/connection/websocket"
        var listeners: [LoadClients] = []
        for pair in pairs {
            let clients = try LoadClients(url: url, token: pair.provider.accessToken, channel: "chat:\(pair.job)", timeField: "t=")
            await clients.open(1, sampleEvery: 1)
            listeners.append(clients)
        }
        let subscribed = { listeners.reduce(0) { $0 + $1.counters.connected.load(ordering: .relaxed) } }
        guard await waitUntil({ subscribed() == pairs.count }, timeout: .seconds(60)) else { throw BenchError("only \(subscribed()) listeners subscribed") }
        // Warm-up: every conversation opens (first message) and every path has run once.
        for pair in pairs { _ = await send(pair, text: "warm-up") }

        let bare = try KafkaConsumer(configuration: KafkaConsumerConfiguration(
            client: platform.configuration.kafkaClient, groupID: "bench-floor-\(UUID().uuidString.prefix(8))", topics: [platform.topics.name(.chatMessages)],
            autoOffsetReset: .latest, fetchWaitMaxMillis: 10, gatherMillis: 0))
        _ = await waitUntil({ !bare.assignment.isEmpty }, timeout: .seconds(30))
        try? await Task.sleep(for: .seconds(2))
        let phaseStart = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let floor = Mutex<[Int64]>([])
        let floorReader = Task {
            for await record in bare.records {
                let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
                if let sent = RealtimeBenchmark.number(after: "t=", in: record.value), sent >= phaseStart { floor.withLock { $0.append(now - sent) } }
            }
        }
        let interval = Duration.nanoseconds(1_000_000_000 / max(1, rate))
        var next = ContinuousClock.now
        let statuses = await withTaskGroup(of: Int.self) { sends -> [Int: Int] in
            for index in 0..<(rate * seconds) {
                next += interval
                try? await Task.sleep(until: next)
                let pair = pairs[index % pairs.count]
                sends.addTask { await send(pair, text: "t=\(Int64(Date().timeIntervalSince1970 * 1_000_000))") }
            }
            var counts: [Int: Int] = [:]
            for await status in sends { counts[status, default: 0] += 1 }
            return counts
        }
        try? await Task.sleep(for: .seconds(3))
        bare.stopDelivery()
        await bare.close()
        floorReader.cancel()
        let delivered = listeners.flatMap { $0.counters.latencies.withLock { $0 } }.filter { $0 >= 0 && $0 < 600_000_000 }.sorted()
        let floorSamples = floor.withLock { $0 }.sorted()
        for clients in listeners { await clients.closeAll() }
        lines.append(String(format: "send → other member's WebSocket at %d msg/s over %d conversations for %d s (%d sent, answers %@): p50 %.1f ms, p99 %.1f ms (%d samples); floor (bare Kafka consumer of the same records): p50 %.1f ms, p99 %.1f ms (%d samples)",
                            rate, pairs.count, seconds, rate * seconds, statuses.sorted { $0.key < $1.key }.map { "\($0.key)×\($0.value)" }.joined(separator: " "),
                            RealtimeBenchmark.percentile(delivered, 0.5), RealtimeBenchmark.percentile(delivered, 0.99), delivered.count,
                            RealtimeBenchmark.percentile(floorSamples, 0.5), RealtimeBenchmark.percentile(floorSamples, 0.99), floorSamples.count))

        // History: one conversation with at least 50 messages, paged over HTTP and found raw.
        let busiest = pairs[0]
        let reader = Caller(userID: busiest.client.user.id, role: .client, sessionID: "bench")
        while try await chat.service.conversation(reader, jobID: busiest.job).lastSeq < 60 {
            _ = await send(busiest, text: "history filler")
        }
        func timed(_ path: String) async -> [Int64] {
            var samples: [Int64] = []
            for _ in 0..<pages {
                var request = HTTPClientRequest(url: base + path)
                request.headers.add(name: "Authorization", value: "Bearer \(busiest.client.accessToken)")
                let start = ContinuousClock.now
                guard let response = try? await http.execute(request, timeout: .seconds(10)), response.status == .ok,
                      (try? await response.body.collect(upTo: 1 << 22)) != nil else { continue }
                samples.append((ContinuousClock.now - start).microseconds)
            }
            return samples.sorted()
        }
        let page = await timed("/v1/conversations/\(busiest.job)/messages?limit=50")
        // The same page through the use case alone (no HTTP, no authentication, no JSON).
        var direct: [Int64] = []
        for _ in 0..<pages {
            let start = ContinuousClock.now
            _ = try await chat.service.messages(reader, jobID: busiest.job, before: nil, after: nil, limit: 50)
            direct.append((ContinuousClock.now - start).microseconds)
        }
        direct.sort()
        // And its JSON encoding alone, as the route does it.
        let sample = try await chat.service.messages(reader, jobID: busiest.job, before: nil, after: nil, limit: 50)
        var encoding: [Int64] = []
        for _ in 0..<pages {
            let start = ContinuousClock.now
            _ = try jsonResponse(sample)
            encoding.append((ContinuousClock.now - start).microseconds)
        }
        encoding.sort()
        let route = await timed("/health/live")
        let raw = try await Self.rawFinds(uri: platform.configuration.mongoURI, database: platform.configuration.mongoDatabase, conversation: busiest.job, count: pages)
        lines.append(String(format: "history page (limit=50) over HTTP: p50 %.2f ms, p99 %.2f ms; raw libmongoc find of the same 50 documents: p50 %.2f ms, p99 %.2f ms; ratio p50 %.2fx, p99 %.2fx; the use case alone (no HTTP): p50 %.2f ms, p99 %.2f ms; its JSON response: p50 %.2f ms; bare route /health/live: p50 %.2f ms, p99 %.2f ms",
                            RealtimeBenchmark.percentile(page, 0.5), RealtimeBenchmark.percentile(page, 0.99),
                            RealtimeBenchmark.percentile(raw, 0.5), RealtimeBenchmark.percentile(raw, 0.99),
                            RealtimeBenchmark.percentile(page, 0.5) / RealtimeBenchmark.percentile(raw, 0.5),
                            RealtimeBenchmark.percentile(page, 0.99) / RealtimeBenchmark.percentile(raw, 0.99),
                            RealtimeBenchmark.percentile(direct, 0.5), RealtimeBenchmark.percentile(direct, 0.99), RealtimeBenchmark.percentile(encoding, 0.5),
                            RealtimeBenchmark.percentile(route, 0.5), RealtimeBenchmark.percentile(route, 0.99)))
        await group.triggerGracefulShutdown()
        _ = try? await running.value
        return lines
    }

    /// The page's query with libmongoc directly: the same filter, sort and limit, every document read.
    static func rawFinds(uri: String, database: String, conversation: String, count: Int) async throws -> [Int64] {
        try await onThread {
            mongoc_init()
            var error = bson_error_t()
            guard let parsed = mongoc_uri_new_with_error(uri, &error) else { throw BenchError("raw uri") }
            defer { mongoc_uri_destroy(parsed) }
            let client = mongoc_client_new_from_uri(parsed)!
            defer { mongoc_client_destroy(client) }
            let collection = mongoc_client_get_collection(client, database, "chat_messages")!
            defer { mongoc_collection_destroy(collection) }
            var samples: [Int64] = []
            for _ in 0..<count {
                let start = ContinuousClock.now
                let filter = bson_new()!
                bson_append_utf8(filter, "conversationId", 14, conversation, -1)
                let options = bson_new()!
                let sort = bson_new()!
                bson_append_int32(sort, "seq", 3, -1)
                bson_append_document(options, "sort", 4, sort)
                bson_append_int64(options, "limit", 5, 50)
                let cursor = mongoc_collection_find_with_opts(collection, filter, options, nil)!
                var document: OpaquePointer?
                var found = 0
                while mongoc_cursor_next(cursor, &document) {
                    if let document { _ = bson_count_keys(document) }
                    found += 1
                }
                mongoc_cursor_destroy(cursor)
                bson_destroy(sort)
                bson_destroy(options)
                bson_destroy(filter)
                guard found == 50 else { throw BenchError("raw find returned \(found)") }
                samples.append((ContinuousClock.now - start).microseconds)
            }
            return samples.sorted()
        }
    }
}
