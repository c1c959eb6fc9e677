import Foundation
import Hummingbird
import Logging
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import ServiceLifecycle

/// The modules of one process, each built exactly once over one `Platform`, in list order (so
/// that a module can require the ports of those before it). `serve`, `worker <name>` and `dev`
/// are all this, with different routes and workers switched on.
public final class Composition: Sendable {
    /// The platform's own worker: publishes the outbox of every module.
    public static let outboxRelay = "outbox-relay"

    public let platform: Platform
    public let modules: [any ServiceModule]
    public let ports: Ports
    let moduleTypes: [any ServiceModule.Type]
    let openAPIJSON: Data
    let methodsByPath: [String: [String]]

    public convenience init(platform: Platform, modules types: [any ServiceModule.Type]) async throws {
        let ports = Ports()
        var built: [any ServiceModule] = []
        for type in types {
            built.append(try await type.init(context: ModuleContext(platform: platform, module: type.name, ports: ports)))
        }
        self.init(platform: platform, built: built, ports: ports)
    }

    /// Modules the caller built (tests give them their own settings), with the ports they share.
    public init(platform: Platform, built: [any ServiceModule], ports: Ports) {
        let types = built.map { type(of: $0) as any ServiceModule.Type }
        Self.checkWorkerNames(types)
        self.platform = platform
        moduleTypes = types
        modules = built
        self.ports = ports
        let document = OpenAPIDocument(modules: types)
        openAPIJSON = document.json()
        methodsByPath = document.methodsByPath
    }

    /// Every worker a process of these modules can run, with its summary, in list order.
    public static func workers(of modules: [any ServiceModule.Type]) -> [(name: String, summary: String)] {
        [(outboxRelay, "publishes every module's outbox to Kafka, in order (one holder of the lease at a time)")]
            + modules.flatMap { $0.workerSummaries }
    }

    static func checkWorkerNames(_ modules: [any ServiceModule.Type]) {
        var seen = Set<String>()
        for (name, _) in workers(of: modules) { precondition(seen.insert(name).inserted, "two workers are named \(name)") }
    }

    /// Indexes and keys (idempotent): of every module, or with `workers` of the modules that run
    /// one of them (a worker process does not create another module's keys).
    public func prepare(forWorkers workers: [String]? = nil) async throws {
        try await Outbox.prepare(platform.mongo)
        for module in modules where workers.map({ names in module.workerNames.contains { names.contains($0) } }) ?? true {
            try await module.prepare()
        }
    }

    /// The platform's checks and every module's.
    public var readinessChecks: [ReadinessCheck] { platform.readinessChecks + modules.flatMap(\.readinessChecks) }

    /// Health, metrics and the OpenAPI document for every process; with `api`, the modules'
    /// routes behind the authentication middleware (the `AccessTokenVerifier` a module provides).
    public func makeRouter(api: Bool) throws -> Router<AppRequestContext> {
        let router = Router(context: AppRequestContext.self)
        // Request counts, durations and errors per route (hb_requests, http_server_request_duration).
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: MethodNotAllowedMiddleware(methodsByPath: api ? methodsByPath : OpenAPIDocument.platformMethodsByPath))
        HealthRoutes.register(on: router, checks: readinessChecks, registry: PlatformRunner.registry)
        let document = openAPIJSON
        router.get("/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: document)))
        }
        if api {
            if let verifier = ports.optional((any AccessTokenVerifier).self) {
                router.add(middleware: AuthMiddleware(verifier: verifier))
            }
            for module in modules { module.addRoutes(to: router) }
        }
        return router
    }

    /// Every consumer worker's declaration (its group and topics) by worker name: what the
    /// deployment's autoscalers are checked against (no more replicas than partitions).
    public func consumerWorkers() throws -> [String: ConsumerWorker] {
        let context = WorkerContext { _, _ in }
        var found: [String: ConsumerWorker] = [:]
        for name in Self.workers(of: moduleTypes).map(\.name) {
            for module in modules {
                if case .consumer(let consumer)? = try module.makeWorker(named: name, in: context) { found[name] = consumer }
            }
        }
        return found
    }

    /// The named workers as services, each built from its module's instance.
    public func workerServices(_ names: [String]) throws -> [any Service] {
        let context = WorkerContext { [self] router, extra in
            HealthRoutes.register(on: router, checks: readinessChecks + extra, registry: PlatformRunner.registry)
        }
        return try names.map { name -> any Service in
            if name == Self.outboxRelay {
                return OutboxRelay(mongo: platform.mongo, producer: platform.producer, topics: platform.topics,
                                   logger: platform.logger.with(label: "outbox.relay"))
            }
            for module in modules {
                guard let worker = try module.makeWorker(named: name, in: context) else { continue }
                switch worker {
                case .service(let service):
                    return service
                case .consumer(let consumer):
                    return ConsumerWorkerService(consumer, kafka: platform.configuration.kafkaClient, topics: platform.topics,
                                                 producer: platform.producer, logger: platform.logger.with(label: "worker.\(name)"))
                }
            }
            throw UnknownWorker(name: name, known: Self.workers(of: moduleTypes).map(\.name))
        }
    }
}

public struct UnknownWorker: Error, CustomStringConvertible {
    public let name: String
    public let known: [String]
    public var description: String { "unknown worker '\(name)'; known: \(known.joined(separator: ", "))" }
}
