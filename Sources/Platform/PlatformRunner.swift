import Foundation
import Hummingbird
import Logging
import MarketplaceDispatch
import MarketplaceHTTP
import MarketplaceKafka
import MarketplaceIdentity
import MarketplaceMessaging
import MarketplaceRealtime
import Metrics
import Prometheus
import ServiceLifecycle

/// The workers a process can run by name (`marketplace worker <name>`).
public enum WorkerName: String, CaseIterable, Sendable {
    case outboxRelay = "outbox-relay"
    /// Dispatch: keeps the Redis index of online providers from their location events.
    case providerLocations = "provider-locations"
    /// Dispatch: offers new service requests to nearby providers.
    case dispatch = "dispatch"
    /// Dispatch: provider ratings from published reviews.
    case providerRatings = "provider-ratings"
    /// Realtime: domain events (offers, jobs) to channel publications and revocations.
    case realtimeBridge = "realtime-bridge"
    /// Realtime: the WebSocket gateway on `realtime.port` (Centrifugo client protocol v2).
    case realtimeGateway = "realtime-gateway"
}

/// Builds and runs a process: the platform's connections, the HTTP server (health, metrics and,
/// in `serve`, the API), and the chosen workers, under one ServiceGroup with graceful shutdown.
public enum PlatformRunner {
    /// Metrics can be bootstrapped once per process.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    public static func makeLogger(_ configuration: PlatformConfiguration) -> Logger {
        var logger = Logger(label: "marketplace")
        logger.logLevel = configuration.logLevel
        return logger
    }

    /// Consumer groups carry the topic prefix too: environments (and test runs) sharing a broker
    /// must not share groups (a group's members and rebalances span all its subscriptions).
    static func group(_ name: String, _ platform: Platform) -> String { platform.configuration.kafkaTopicPrefix + name }

    /// Where every worker sends records it cannot handle.
    static func deadLetter(_ platform: Platform) -> KafkaConsumerService.DeadLetter {
        .init(producer: platform.producer, topic: platform.configuration.kafkaTopicPrefix + "marketplace.dead-letter.v1")
    }

    public static func workerServices(_ names: [WorkerName], platform: Platform) -> [any Service] {
        names.map { name -> any Service in
            switch name {
            case .outboxRelay:
                OutboxRelay(mongo: platform.mongo, producer: platform.producer, logger: platform.logger.with(label: "outbox.relay"))
            case .providerLocations:
                ProviderLocationWorker(
                    index: ProviderPresenceIndex(redis: platform.redis),
                    consumer: KafkaConsumerConfiguration(client: platform.configuration.kafkaClient, groupID: group("dispatch-provider-index", platform),
                                                         topics: [platform.configuration.kafkaTopicPrefix + DispatchEvents.locationsTopic]),
                    deadLetter: deadLetter(platform),
                    logger: platform.logger.with(label: "dispatch.provider-locations"))
            case .dispatch:
                DispatchWorker(
                    service: makeDispatch(platform), index: ProviderPresenceIndex(redis: platform.redis),
                    consumer: KafkaConsumerConfiguration(client: platform.configuration.kafkaClient, groupID: group("dispatch-worker", platform),
                                                         topics: [platform.configuration.kafkaTopicPrefix + DispatchEvents.requestsTopic]),
                    deadLetter: deadLetter(platform),
                    logger: platform.logger.with(label: "dispatch.worker"))
            case .providerRatings:
                ProviderRatingsWorker(
                    service: makeDispatch(platform),
                    consumer: KafkaConsumerConfiguration(client: platform.configuration.kafkaClient, groupID: group("dispatch-provider-ratings", platform),
                                                         topics: [platform.configuration.kafkaTopicPrefix + DispatchEvents.reviewsTopic]),
                    deadLetter: deadLetter(platform),
                    logger: platform.logger.with(label: "dispatch.provider-ratings"))
            case .realtimeBridge:
                RealtimeBridge(publisher: RealtimePublisher(producer: platform.producer, topicPrefix: platform.configuration.kafkaTopicPrefix),
                               kafka: platform.configuration.kafkaClient, topicPrefix: platform.configuration.kafkaTopicPrefix,
                               groupID: group("realtime-bridge", platform), deadLetter: deadLetter(platform),
                               logger: platform.logger.with(label: "realtime.bridge"))
            case .realtimeGateway:
                makeGateway(platform, configuration: RealtimeConfiguration(
                    host: platform.configuration.realtimeHost, port: platform.configuration.realtimePort,
                    topicPrefix: platform.configuration.kafkaTopicPrefix))
            }
        }
    }

    /// Health and metrics for every process; the API routes when `identity` is given (`serve`).
    public static func makeRouter(platform: Platform, identity: IdentityService? = nil, dispatch: DispatchService? = nil) -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self)
        // Request counts, durations and errors per route (hb_requests, http_server_request_duration).
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware())
        HealthRoutes.register(on: router, checks: platform.readinessChecks, registry: registry)
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: OpenAPIDocument.json())))
        }
        if let identity {
            router.add(middleware: AuthMiddleware(verifier: IdentityTokenVerifier(service: identity)))
            IdentityRoutes.register(on: router, service: identity)
            if let dispatch {
                let search = ProviderSearch(mongo: platform.mongo, index: ProviderPresenceIndex(redis: platform.redis))
                DispatchRoutes.register(on: router, service: dispatch, search: search)
            }
        }
        return router
    }

    /// A gateway node: tokens verified like the API does (live session), job access from the
    /// Dispatch service's jobs, history and presence in Redis; /metrics on its own port too.
    public static func makeGateway(_ platform: Platform, configuration: RealtimeConfiguration) -> RealtimeGateway {
        RealtimeGateway(
            configuration: configuration,
            verifier: IdentityTokenVerifier(service: IdentityService(mongo: platform.mongo, redis: platform.redis)),
            jobs: MongoJobAccessDirectory(mongo: platform.mongo),
            history: ChannelHistory(redis: platform.redis, maxLength: configuration.historySize, ttl: configuration.historyTTL),
            presence: PresenceStore(redis: platform.redis, ttl: configuration.presenceTTL),
            publisher: RealtimePublisher(producer: platform.producer, topicPrefix: configuration.topicPrefix),
            events: KafkaEventPublisher(producer: platform.producer),
            kafka: platform.configuration.kafkaClient,
            routes: { router, gateway in
                let listening = ReadinessCheck(name: "gateway") {
                    guard gateway.isReady else { throw GatewayNotReady() }
                }
                HealthRoutes.register(on: router, checks: platform.readinessChecks + [listening], registry: registry)
            },
            logger: platform.logger.with(label: "realtime.gateway"))
    }

    struct GatewayNotReady: Error, CustomStringConvertible {
        var description: String { "not listening or not yet reading the fan-out topic" }
    }

    public static func makeDispatch(_ platform: Platform) -> DispatchService {
        DispatchService(mongo: platform.mongo, publisher: KafkaEventPublisher(producer: platform.producer),
                        directory: MongoProviderDirectory(mongo: platform.mongo), topicPrefix: platform.configuration.kafkaTopicPrefix)
    }

    /// Runs until SIGTERM/SIGINT, then stops the workers (finishing in-flight work), the HTTP
    /// server, and finally flushes and closes the connections.
    public static func run(configuration: PlatformConfiguration, workers: [WorkerName], api: Bool) async throws {
        _ = registry
        let logger = makeLogger(configuration)
        let platform = try Platform(configuration: configuration, logger: logger)
        var identity: IdentityService?
        var dispatch: DispatchService?
        if api {
            let service = IdentityService(mongo: platform.mongo, redis: platform.redis)
            try await service.prepare()
            identity = service
            dispatch = makeDispatch(platform)
            try await dispatch?.prepare()
        }
        let app = Application(
            router: makeRouter(platform: platform, identity: identity, dispatch: dispatch),
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "marketplace"),
            logger: logger)
        let services: [any Service] = [PlatformLifetime(platform: platform)] + workerServices(workers, platform: platform) + [app]
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        logger.info("marketplace starting", metadata: ["workers": "\(workers.map(\.rawValue))", "http": "\(configuration.httpHost):\(configuration.httpPort)"])
        try await group.run()
    }
}
