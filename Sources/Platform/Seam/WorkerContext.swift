import Hummingbird
import Logging
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import ServiceLifecycle

/// What the platform offers a worker that serves HTTP of its own (the realtime gateway):
/// the process's health, readiness and metrics routes, with checks of its own added.
public struct WorkerContext: Sendable {
    /// Adds `/health/live`, `/health/ready` (the platform's checks, the modules', and `extra`)
    /// and `/metrics` to a router of the worker's.
    public let addHealthRoutes: @Sendable (_ router: Router<AppRequestContext>, _ extra: [ReadinessCheck]) -> Void
}
