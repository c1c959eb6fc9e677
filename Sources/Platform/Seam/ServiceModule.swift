import Hummingbird
import MarketplaceHTTP

/// A service as the platform runs it: the one seam a service plugs in through.
///
/// A module says what it is (`name`, the workers it can run, its part of the OpenAPI
/// document) without connecting anywhere; `init(context:)` then builds it once per process over
/// the shared connections, and the platform asks it for its start-up work, routes and readiness
/// checks. Which modules an executable has is one list (`MarketplaceApp.modules`); the platform
/// knows no service by name. Models: Hummingbird's `ApplicationProtocol` and `RouteCollection`,
/// Vapor's `RouteCollection.boot`.
public protocol ServiceModule: Sendable {
    /// Names the module: its configuration section (`<name>.*` keys), logs and labels.
    static var name: String { get }
    /// The workers `marketplace worker <name>` can run (names unique across the platform).
    static var workers: [WorkerDefinition<Self>] { get }
    /// The paths and schemas this module adds to `/openapi.json`.
    static var openAPI: OpenAPIFragment { get }

    /// Builds the module once per process: reads its configuration section
    /// (`context.configuration`), creates its services over the shared connections, and provides
    /// the ports other modules use (`context.ports`). Modules are built in list order, so a
    /// module can require the ports of those before it.
    init(context: ModuleContext) async throws

    /// Indexes, keys and other idempotent start-up work, before routes or workers run.
    func prepare() async throws

    /// Adds the module's HTTP routes; the platform's middleware (problem+json, authentication)
    /// is already on the router.
    func addRoutes(to router: Router<AppRequestContext>)

    /// Checks of its own that `/health/ready` runs besides the platform's connections.
    var readinessChecks: [ReadinessCheck] { get }
}

extension ServiceModule {
    public static var workers: [WorkerDefinition<Self>] { [] }
    public static var openAPI: OpenAPIFragment { OpenAPIFragment() }
    public func prepare() async throws {}
    public func addRoutes(to router: Router<AppRequestContext>) {}
    public var readinessChecks: [ReadinessCheck] { [] }

    /// The names and summaries of this module's workers.
    public static var workerSummaries: [(name: String, summary: String)] { workers.map { ($0.name, $0.summary) } }

    var workerNames: [String] { Self.workers.map(\.name) }

    /// Builds the named worker of this module instance, nil when it has none of that name.
    func makeWorker(named name: String, in context: WorkerContext) throws -> ModuleWorker? {
        try Self.workers.first { $0.name == name }.map { try $0.make(self, context) }
    }
}
