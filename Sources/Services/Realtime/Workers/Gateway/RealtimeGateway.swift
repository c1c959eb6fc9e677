import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import MarketplaceContracts
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
    let revocations: any SessionRevocationFeed
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
    private let schedulers = Mutex<[ObjectIdentifier: OutputScheduler]>([:])
    let metrics = GatewayMetrics()
    private let boundPort = Mutex<Int?>(nil)
    private let slowDisconnects = Atomic<Int>(0)
    private let readPauses = Atomic<Int>(0)
    /// Times a connection's reading paused because too many of its messages waited.
    public var readPauseCount: Int { readPauses.load(ordering: .relaxed) }
    func readPaused() {
        readPauses.add(1, ordering: .relaxed)
        metrics.readPauses.increment()
    }
    /// Connections dropped as slow consumers since start.
    public var slowConsumerDisconnects: Int { slowDisconnects.load(ordering: .relaxed) }
    /// Open WebSocket connections on this node.
    public var connectionCount: Int { connections.withLock { $0.count } }
    private let assigned = Mutex(false)

    public init(configuration: RealtimeConfiguration, verifier: any AccessTokenVerifier, jobs: any JobAccessDirectory,
                revocations: any SessionRevocationFeed,
                history: ChannelHistory, presence: PresenceStore, publisher: RealtimePublisher, events: any EventPublisher,
                kafka: KafkaClientConfiguration, topics: TopicNames, routes: @escaping @Sendable (Router<AppRequestContext>, RealtimeGateway) -> Void = { _, _ in },
                logger: Logger = Logger(label: "realtime.gateway")) {
        self.configuration = configuration
        self.verifier = verifier
        self.jobs = jobs
        self.revocations = revocations
        self.history = history
        self.presence = presence
        self.publisher = publisher
        self.events = events
        self.routes = routes
        self.logger = logger
        // Every node reads everything: a group of its own. Committed offsets let a restarted node
        // with the same id resume (and fill history); a new node starts at the end.
        self.consumerConfiguration = KafkaConsumerConfiguration(
            client: kafka, groupID: topics.group("realtime-gateway-\(configuration.nodeID)"), topics: [publisher.topic],
            autoOffsetReset: .earliest, fetchWaitMaxMillis: 10, gatherMillis: 0)
    }

    /// The port the server listens on, once it does (a configured port of 0 picks a free one).
    public var port: Int? { boundPort.withLock { $0 } }
    /// Listening and reading the fan-out topic.
    public var isReady: Bool { port != nil && assigned.withLock { $0 } }

    public func run() async throws {
        let router = Router(context: AppRequestContext.self)
        routes(router, self)
        let app = Application(
            router: router,
            server: HTTPServerBuilder { responder in GatewayChildChannel(responder: responder, gateway: self) },
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "marketplace-realtime"),
            onServerRunning: { [self] channel in self.boundPort.withLock { $0 = channel.localAddress?.port } },
            logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            // run(), not runService(): runService() starts a service group of its own that catches
            // SIGTERM, so the gateway's server stopped before the process's service group asked
            // it to, and the process exited 1 ("RealtimeGateway finished unexpectedly").
            group.addTask { try await app.run() }
            group.addTask { try await self.readFanOut() }
            group.addTask { await self.housekeeping() }
            group.addTask { await self.followRevocations() }
            try await withGracefulShutdownHandler {
                try await group.next()
            } onGracefulShutdown: {
                // Clients reconnect elsewhere (3001 allows it) and recover what they miss.
                for connection in self.connections.withLock({ Array($0.values) }) { connection.disconnect(.shutdown, dropPending: false) }
            }
            group.cancelAll()
        }
    }

    /// Ends, at once, the connections of sessions revoked anywhere (logout, suspension, password
    /// reset, a reused refresh token) with 3500, which the SDKs take as terminal: the token is
    /// dead, reconnecting with it cannot help. Without this a socket outlived its session until
    /// the token expired. A lost feed is followed again after a second.
    func followRevocations() async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                try await revocations.follow { [self] revocation in revoke(revocation) }
            } catch {
                logger.warning("revocation feed lost: \(error)")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }

    func revoke(_ revocation: SessionRevocation) {
        let affected = connections.withLock { $0.values.filter { $0.caller.map(revocation.covers) ?? false } }
        for connection in affected where connection.disconnect(.invalidToken, dropPending: true) {
            metrics.revokedDisconnects.increment()
        }
    }

    /// How many publications the channel's history holds (operations and tests).
    public func historyCount(_ channel: String) async throws -> Int {
        try await history.history(channel, limit: configuration.historySize, since: nil).1.count
    }

    // MARK: connections (called by the transport, GatewaySocketHandler)

    func opened(_ connection: ClientConnection) {
        connections.withLock { $0[connection.id] = connection }
        metrics.connections.increment()
    }

    func closed(_ connection: ClientConnection) {
        Task { await cleanUp(connection) }
    }

    /// Handles the connection's pending commands in order, in a task that ends when none wait.
    func startCommands(for connection: ClientConnection) {
        Task {
            while let message = connection.nextMessage() {
                await handle(message, from: connection)
            }
        }
    }

    /// The output scheduler of an event loop (one per loop, made on first use).
    func scheduler(for eventLoop: any EventLoop) -> OutputScheduler {
        schedulers.withLock { schedulers in
            let key = ObjectIdentifier(eventLoop as AnyObject)
            if let scheduler = schedulers[key] { return scheduler }
            let scheduler = OutputScheduler(eventLoop: eventLoop)
            schedulers[key] = scheduler
            return scheduler
        }
    }

    private func cleanUp(_ connection: ClientConnection) async {
        guard connections.withLock({ $0.removeValue(forKey: connection.id) }) != nil else { return }
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
            for await records in consumer.batches {
                await apply(records.compactMap(RealtimeBus.decode))
                for record in records { try? consumer.storeOffset(record) }
            }
        } onCancel: {
            consumer.stopDelivery()
        }
        await consumer.close()
        logger.debug("fan-out reader closed")
    }

    /// One batch of fan-out records: their publications go into history in one round trip, then
    /// every record is delivered in order.
    func apply(_ batch: [RealtimeBus.Incoming]) async {
        // History first: a client that subscribes now gets a position that includes them.
        let publications = batch.filter { $0.kind == .publication }.map { ($0.channel, $0.eventID, $0.publication) }
        for attempt in 1...3 {
            do {
                try await history.append(publications)
                break
            } catch {
                // Live subscribers still get the publications; a client recovering across this
                // gap may be told it recovered everything (logged, counted).
                if attempt == 3 {
                    metrics.historyFailures.increment()
                    logger.error("history append failed, delivering without history: \(error)", metadata: ["records": "\(publications.count)"])
                } else {
                    try? await Task.sleep(for: .milliseconds(50 * attempt))
                }
            }
        }
        // Consecutive publications of one channel go to each subscriber as one run (one lock,
        // one subscriber list); anything else is delivered on its own, in order.
        var run: [RealtimeBus.Incoming] = []
        for incoming in batch {
            if incoming.kind == .publication, run.isEmpty || run[0].channel == incoming.channel {
                run.append(incoming)
                continue
            }
            deliver(run)
            run = incoming.kind == .publication ? [incoming] : []
            if incoming.kind != .publication { await deliver(incoming) }
        }
        deliver(run)
    }

    /// Publications of one channel, in order.
    private func deliver(_ run: [RealtimeBus.Incoming]) {
        guard let channel = run.first?.channel else { return }
        // Labelled as ClientConnection.deliver takes them: an unlabelled [(UInt64, String)] was
        // converted for every subscriber, a dynamic cast per element (4% of a fan-out's time).
        let publications: [(offset: UInt64, frame: String)] = run.map { (offset: $0.offset, frame: Frames.publication(channel, $0.publication)) }
        let conflate = RealtimeChannel(channel)?.conflated ?? false
        var delivered = 0
        for connection in hub.subscribers(of: channel) {
            if connection.deliver(channel: channel, publications: publications, conflate: conflate) == .overflow {
                slow(connection)
            } else {
                delivered += publications.count
            }
        }
        metrics.deliveries.increment(by: delivered)
        let now = Date().timeIntervalSince1970 * 1000
        for incoming in run {
            if let produced = incoming.producedAtMillis {
                metrics.deliveryDelay.recordNanoseconds(Int64(max(0, now - Double(produced)) * 1_000_000))
            }
        }
    }

    private func deliver(_ incoming: RealtimeBus.Incoming) async {
        switch incoming.kind {
        case .publication:
            deliver([incoming])
        case .ephemeral:
            let frame = Frames.publication(incoming.channel, Publication(offset: 0, data: incoming.data, info: incoming.info))
            for connection in hub.subscribers(of: incoming.channel)
            where connection.deliver(channel: incoming.channel, offset: 0, frame: frame, conflate: false) == .overflow {
                slow(connection)
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
            // Presence entries live presenceTTL; refreshing every TTL/3 keeps live ones.
            let refreshPresence = Int(wallClock.timeIntervalSince1970) % max(1, Int(presence.ttl / 3)) == 0
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
                if refreshPresence, let info = connection.info {
                    for name in connection.subscriptionNames where RealtimeChannel(name)?.tracksPresence == true {
                        presenceEntries.append((name, info))
                    }
                }
            }
            metrics.queuedFrames.record(queued)
            metrics.subscribedChannels.record(hub.channelCount)
            if refreshPresence {
                do { try await presence.touch(presenceEntries) } catch { logger.warning("presence refresh failed: \(error)") }
            }
        }
    }
}
