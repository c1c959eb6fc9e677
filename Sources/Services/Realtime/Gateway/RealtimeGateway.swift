import Foundation
import Hummingbird
import HummingbirdWebSocket
import Logging
import MarketplaceDispatch
import MarketplaceDomain
import MarketplaceHTTP
import MarketplaceKafka
import MarketplaceMessaging
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization

/// The WebSocket gateway: `/connection/websocket` speaking the Centrifugo client protocol v2
/// (JSON), fed by the fan-out topic. Each node reads every record of `marketplace.realtime-publications.v1`
/// (its own consumer group), appends publications to the channel's history, and delivers them to
/// its own subscribers. See docs/realtime.md.
public final class RealtimeGateway: Service, Sendable {
    let configuration: RealtimeConfiguration
    let verifier: any AccessTokenVerifier
    let jobs: any JobAccessDirectory
    let history: ChannelHistory
    let presence: PresenceStore
    let publisher: RealtimePublisher
    let events: any EventPublisher
    let consumerConfiguration: KafkaConsumerConfiguration
    /// Health, readiness and metrics routes: the process composition adds them (they are the
    /// platform's), with `isReady` among the readiness checks.
    let routes: @Sendable (Router<AppRequestContext>, RealtimeGateway) -> Void
    let logger: Logger
    let hub = Hub()
    let connections = Mutex<[String: ClientConnection]>([:])
    let metrics = GatewayMetrics()
    private let boundPort = Mutex<Int?>(nil)
    private let slowDisconnects = Atomic<Int>(0)
    /// Connections dropped as slow consumers since start.
    public var slowConsumerDisconnects: Int { slowDisconnects.load(ordering: .relaxed) }
    private let assigned = Mutex(false)

    public init(configuration: RealtimeConfiguration, verifier: any AccessTokenVerifier, jobs: any JobAccessDirectory,
                history: ChannelHistory, presence: PresenceStore, publisher: RealtimePublisher, events: any EventPublisher,
                kafka: KafkaClientConfiguration, routes: @escaping @Sendable (Router<AppRequestContext>, RealtimeGateway) -> Void = { _, _ in },
                logger: Logger = Logger(label: "realtime.gateway")) {
        self.configuration = configuration
        self.verifier = verifier
        self.jobs = jobs
        self.history = history
        self.presence = presence
        self.publisher = publisher
        self.events = events
        self.routes = routes
        self.logger = logger
        // Every node reads everything: a group of its own. Committed offsets let a restarted node
        // with the same id resume (and fill history); a new node starts at the end.
        self.consumerConfiguration = KafkaConsumerConfiguration(
            client: kafka, groupID: configuration.topicPrefix + "realtime-gateway-\(configuration.nodeID)", topics: [publisher.topic],
            autoOffsetReset: .earliest, fetchWaitMaxMillis: 10)
    }

    /// The port the server listens on, once it does (a configured port of 0 picks a free one).
    public var port: Int? { boundPort.withLock { $0 } }
    /// Listening and reading the fan-out topic.
    public var isReady: Bool { port != nil && assigned.withLock { $0 } }

    public func run() async throws {
        let router = Router(context: AppRequestContext.self)
        routes(router, self)
        let wsConfiguration = WebSocketServerConfiguration(maxFrameSize: configuration.maxMessageBytes, autoPing: .disabled,
                                                           closeTimeout: .seconds(2))
        let app = Application(
            router: router,
            server: .http1WebSocketUpgrade(configuration: .init(ws: wsConfiguration)) { [self] head, channel, _ in
                guard head.path?.split(separator: "?").first == "/connection/websocket" else { return .dontUpgrade }
                return .upgrade([:]) { inbound, outbound, _ in
                    await self.serve(inbound: inbound, outbound: outbound, channel: channel)
                }
            },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "marketplace-realtime"),
            onServerRunning: { [self] channel in self.boundPort.withLock { $0 = channel.localAddress?.port } },
            logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            group.addTask { try await self.readFanOut() }
            group.addTask { await self.housekeeping() }
            try await withGracefulShutdownHandler {
                try await group.next()
            } onGracefulShutdown: {
                // Clients reconnect elsewhere (3001 allows it) and recover what they miss.
                for connection in self.connections.withLock({ Array($0.values) }) { connection.disconnect(.shutdown, dropPending: false) }
            }
            group.cancelAll()
        }
    }

    /// How many publications the channel's history holds (operations and tests).
    public func historyCount(_ channel: String) async throws -> Int {
        try await history.history(channel, limit: configuration.historySize, since: nil).1.count
    }

    // MARK: one connection

    func serve(inbound: WebSocketInboundStream, outbound: WebSocketOutboundWriter, channel: any Channel) async {
        let connection = ClientConnection(configuration: configuration, abort: { channel.close(promise: nil) })
        connections.withLock { $0[connection.id] = connection }
        metrics.connections.increment()
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while let frames = await connection.queue.next() {
                    do { try await outbound.write(.text(frames.joined(separator: "\n"))) } catch { break }
                    self.metrics.framesOut.increment(by: frames.count)
                }
                if let reason = connection.disconnectReason {
                    try? await outbound.close(.unknown(reason.code), reason: reason.reason)
                }
            }
            do {
                for try await message in inbound.messages(maxSize: configuration.maxMessageBytes) {
                    guard case .text(let text) = message else {
                        connection.disconnect(.badRequest, dropPending: false)
                        break
                    }
                    await handle(text, from: connection)
                    if case .closed = connection.phase { break }
                }
            } catch {
                // Oversize messages and broken transports end here.
                connection.disconnect(.messageTooLarge, dropPending: true)
            }
            connection.finished()
            await group.waitForAll()
        }
        await cleanUp(connection)
    }

    private func cleanUp(_ connection: ClientConnection) async {
        connections.withLock { $0[connection.id] = nil }
        metrics.connections.decrement()
        for name in connection.subscriptionNames {
            if let subscription = connection.removeSubscription(name) {
                await leave(subscription.channel, connection: connection)
            }
        }
    }

    // MARK: the fan-out reader

    private func readFanOut() async throws {
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        let watcher = Task {
            while !Task.isCancelled {
                let isAssigned = !consumer.assignment.isEmpty
                assigned.withLock { $0 = isAssigned }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        defer { watcher.cancel() }
        await withTaskCancellationHandler {
            for await record in consumer.records {
                guard let incoming = RealtimeBus.decode(record) else { continue }
                do {
                    try await apply(incoming)
                } catch {
                    logger.warning("fan-out record not applied: \(error)", metadata: ["channel": "\(incoming.channel)"])
                }
                try? consumer.storeOffset(record)
            }
        } onCancel: {
            consumer.stopDelivery()
        }
        await consumer.close()
        logger.debug("fan-out reader closed")
    }

    func apply(_ incoming: RealtimeBus.Incoming) async throws {
        switch incoming.kind {
        case .publication:
            let publication = incoming.publication
            // History first: a client that subscribes now gets a position that includes it.
            try await history.append(channel: incoming.channel, eventID: incoming.eventID, publication: publication)
            let frame = Frames.publication(incoming.channel, publication)
            let conflate = RealtimeChannel(incoming.channel)?.conflated ?? false
            var delivered = 0
            for connection in hub.subscribers(of: incoming.channel) {
                if connection.deliver(channel: incoming.channel, offset: publication.offset, frame: frame, conflate: conflate) == .overflow {
                    slow(connection)
                } else {
                    delivered += 1
                }
            }
            metrics.deliveries.increment(by: delivered)
            if let produced = incoming.producedAtMillis {
                let delay = Date().timeIntervalSince1970 * 1000 - Double(produced)
                metrics.deliveryDelay.recordNanoseconds(Int64(max(0, delay) * 1_000_000))
            }
        case .join, .leave:
            guard let info = incoming.info else { return }
            let frame = incoming.kind == .join ? Frames.join(incoming.channel, info) : Frames.leave(incoming.channel, info)
            for connection in hub.subscribers(of: incoming.channel)
            where connection.deliver(channel: incoming.channel, offset: 0, frame: frame, conflate: false) == .overflow {
                slow(connection)
            }
        case .revoke:
            for connection in hub.subscribers(of: incoming.channel) {
                guard let subscription = connection.removeSubscription(incoming.channel) else { continue }
                hub.remove(connection, from: incoming.channel)
                if connection.queue.push(Frames.unsubscribe(incoming.channel, code: UnsubscribeCode.server, reason: "access ended")) == .overflow {
                    slow(connection)
                }
                metrics.subscriptions.decrement()
                if let info = connection.info { try? await presence.remove(channel: subscription.channel.name, client: info.client) }
            }
        }
    }

    func slow(_ connection: ClientConnection) {
        guard connection.disconnect(.slow, dropPending: true) else { return }
        metrics.slowDisconnects.increment()
        slowDisconnects.add(1, ordering: .relaxed)
        logger.info("slow consumer disconnected", metadata: ["client": "\(connection.id)"])
        // The writer may be stuck on a client that stopped reading: the close frame (3008) goes
        // out once that write completes; a client that never reads again loses the transport.
        Task {
            try? await Task.sleep(for: .seconds(5))
            connection.abort()
        }
    }

    // MARK: housekeeping

    private func housekeeping() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .seconds(1))
            let now = ContinuousClock.now, wallClock = Date()
            var presenceEntries: [(channel: String, info: ClientInfo)] = []
            var queued = 0
            for connection in connections.withLock({ Array($0.values) }) {
                queued += connection.queue.depth
                if connection.queue.isSlow { slow(connection); continue }
                switch connection.housekeeping(now: now, wallClock: wallClock) {
                case .nothing: break
                case .ping: _ = connection.queue.push(Frames.ping)
                case .disconnect(let reason): connection.disconnect(reason, dropPending: false)
                }
                if let info = connection.info {
                    for name in connection.subscriptionNames where RealtimeChannel(name)?.jobID != nil {
                        presenceEntries.append((name, info))
                    }
                }
            }
            metrics.queuedFrames.record(queued)
            let counts = hub.counts
            metrics.subscribedChannels.record(counts.channels)
            // Presence entries live presenceTTL; refreshing every TTL/3 keeps live ones.
            if Int(wallClock.timeIntervalSince1970) % max(1, Int(presence.ttl / 3)) == 0 {
                do { try await presence.touch(presenceEntries) } catch { logger.warning("presence refresh failed: \(error)") }
            }
        }
    }
}

/// Prometheus metrics of a gateway node.
struct GatewayMetrics: Sendable {
    let connections = Meter(label: "realtime_connections")
    let subscriptions = Meter(label: "realtime_subscriptions")
    let subscribedChannels = Gauge(label: "realtime_channels")
    let publicationsIn = Counter(label: "realtime_publications_in_total")
    let deliveries = Counter(label: "realtime_deliveries_total")
    let framesOut = Counter(label: "realtime_frames_out_total")
    let slowDisconnects = Counter(label: "realtime_slow_consumer_disconnects_total")
    let queuedFrames = Gauge(label: "realtime_queued_frames")
    let deliveryDelay = Timer(label: "realtime_delivery_delay_seconds")
}
