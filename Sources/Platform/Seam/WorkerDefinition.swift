import Hummingbird
import Logging
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import ServiceLifecycle

/// One worker of a module, as `marketplace worker <name>` knows it: a name and a summary
/// (listed without connecting anywhere), and how to build it from the module once it runs.
public struct WorkerDefinition<Module: ServiceModule>: Sendable {
    public let name: String
    public let summary: String
    let make: @Sendable (Module, WorkerContext) throws -> ModuleWorker

    /// A consumer worker: topics, group and handler; retries, dead letters and graceful shutdown
    /// come from the platform (`ConsumerWorkerService`).
    public static func consumer(_ name: String, summary: String,
                                _ declare: @escaping @Sendable (Module) -> ConsumerWorker) -> WorkerDefinition {
        WorkerDefinition(name: name, summary: summary) { module, _ in .consumer(declare(module)) }
    }

    /// A worker that is a service of its own (a server, a relay); it gets the worker context
    /// for the platform's health routes.
    public static func service(_ name: String, summary: String,
                               _ make: @escaping @Sendable (Module, WorkerContext) throws -> any Service) -> WorkerDefinition {
        WorkerDefinition(name: name, summary: summary) { module, context in .service(try make(module, context)) }
    }
}
