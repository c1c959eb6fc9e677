import Foundation
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplacePlatform

/// Realtime on the platform's seam: the WebSocket gateway (Centrifugo client protocol v2) and
/// the bridge from domain events to channel publications. Needs the `AccessTokenVerifier` and the
/// `SessionRevocationFeed` (Identity) and the `JobAccessDirectory` (Dispatch) as ports; provides
/// the `RealtimeFanOut` (the bridge's mapping, for services that put their publications in their
/// own outbox) and the `PresenceDirectory` (who is connected now); reads no other module's data.
///
/// Configuration (`realtime.*`): `host` (127.0.0.1), `port` (8001), `node.id` (host-pid),
/// `max.subscriptions` (128), `commands.per.second` (50), `command.burst` (100),
/// `max.queued.bytes` (1 MiB), `history.size` (100), `history.ttl` seconds (600),
/// `presence.ttl` seconds (60).
public struct RealtimeModule: ServiceModule {
    public static let name = "realtime"

    public let configuration: RealtimeConfiguration
    let verifier: any AccessTokenVerifier
    let jobs: any JobAccessDirectory
    let revocations: any SessionRevocationFeed
    let platform: Platform

    public init(context: ModuleContext) async throws {
        try self.init(context: context, configuration: try RealtimeConfiguration(section: context.configuration))
    }

    /// A module with a configuration chosen by the caller (tests: port 0, small limits).
    public init(context: ModuleContext, configuration: RealtimeConfiguration) throws {
        self.configuration = configuration
        verifier = try context.ports.require((any AccessTokenVerifier).self, by: Self.name)
        jobs = try context.ports.require((any JobAccessDirectory).self, by: Self.name)
        revocations = try context.ports.require((any SessionRevocationFeed).self, by: Self.name)
        platform = context.platform
        context.ports.provide((any RealtimeFanOut).self, BridgeFanOut(), by: Self.name)
        context.ports.provide((any PresenceDirectory).self,
                              GatewayPresenceDirectory(presence: PresenceStore(redis: context.redis, ttl: configuration.presenceTTL)), by: Self.name)
    }

    public var publisher: RealtimePublisher { RealtimePublisher(producer: platform.producer, topics: platform.topics) }

    /// A gateway node; `addHealthRoutes` puts the platform's health, readiness (with the
    /// gateway's own check) and metrics routes on its port.
    public func makeGateway(configuration: RealtimeConfiguration? = nil,
                            addHealthRoutes: @escaping @Sendable (Router<AppRequestContext>, [ReadinessCheck]) -> Void = { _, _ in }) -> RealtimeGateway {
        let configuration = configuration ?? self.configuration
        return RealtimeGateway(
            configuration: configuration, verifier: verifier, jobs: jobs, revocations: revocations,
            history: ChannelHistory(redis: platform.redis, maxLength: configuration.historySize, ttl: configuration.historyTTL),
            presence: PresenceStore(redis: platform.redis, ttl: configuration.presenceTTL),
            publisher: publisher, events: KafkaEventPublisher(producer: platform.producer, topics: platform.topics),
            kafka: platform.configuration.kafkaClient, topics: platform.topics,
            routes: { router, gateway in
                addHealthRoutes(router, [ReadinessCheck(name: "gateway") { guard gateway.isReady else { throw GatewayNotReady() } }])
            },
            logger: platform.logger.with(label: "realtime.gateway"))
    }

    public static var workers: [WorkerDefinition<RealtimeModule>] {
        [
            // Chat's events need no bridge: their publications are in Chat's outbox (RealtimeFanOut).
            .consumer("realtime-bridge", summary: "turns offer and job events into channel publications and revocations") { module in
                ConsumerWorker(topics: [.offers, .jobs], group: "realtime-bridge", fetchWaitMaxMillis: 10) { [publisher = module.publisher] event in
                    try await RealtimeBridge.handle(event, publisher: publisher)
                }
            },
            .service("realtime-gateway", summary: "the WebSocket gateway on realtime.port (Centrifugo client protocol v2)") { module, context in
                module.makeGateway(addHealthRoutes: context.addHealthRoutes)
            },
        ]
    }
}

extension RealtimeConfiguration {
    /// Reads the `realtime.*` section; defaults where a key is unset.
    public init(section: ConfigurationSection) throws {
        let defaults = Self()
        self.init(host: try section.string("host", default: defaults.host),
                  port: try section.integer("port", default: defaults.port, in: 0...65535),
                  nodeID: try section.string("node.id", default: defaults.nodeID),
                  maxSubscriptions: try section.integer("max.subscriptions", default: defaults.maxSubscriptions, in: 1...10_000),
                  commandsPerSecond: try section.number("commands.per.second", default: defaults.commandsPerSecond, in: 0.1...100_000),
                  commandBurst: try section.number("command.burst", default: defaults.commandBurst, in: 1...100_000),
                  maxQueuedBytes: try section.integer("max.queued.bytes", default: defaults.maxQueuedBytes, in: 4_096...(1 << 30)),
                  presenceTTL: try section.seconds("presence.ttl", default: defaults.presenceTTL, in: 5...86_400),
                  historySize: try section.integer("history.size", default: defaults.historySize, in: 0...10_000),
                  historyTTL: .seconds(try section.seconds("history.ttl", default: Double(defaults.historyTTL.components.seconds), in: 1...604_800)))
    }
}
