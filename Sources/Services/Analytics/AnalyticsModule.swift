import Foundation
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplacePlatform

/// Analytics on the platform's seam: reads the domain topics (its own consumer group), keeps its
/// own aggregates and facts, needs no port. Configuration (`analytics.*`): `grace` seconds
/// (604800: events older than a week are not counted).
public struct AnalyticsModule: ServiceModule {
    public static let name = "analytics"
    public static var openAPI: OpenAPIFragment { AnalyticsOpenAPI.fragment }

    public let service: AnalyticsService
    public let dashboard: DashboardAssets

    public init(context: ModuleContext) async throws {
        let grace = try context.configuration.seconds("grace", default: 7 * 86_400, in: 60...(366 * 86_400))
        try self.init(service: AnalyticsService(mongo: context.mongo, settings: .init(grace: grace), logger: context.logger))
    }

    public init(service: AnalyticsService, dashboard: DashboardAssets? = nil) throws {
        self.service = service
        self.dashboard = try dashboard ?? .bundled()
    }

    public func prepare() async throws { try await service.prepare() }

    public func addRoutes(to router: Router<AppRequestContext>) {
        AnalyticsRoutes.register(on: router, service: service)
        DashboardRoutes.register(on: router, assets: dashboard)
    }

    /// The topics whose events count.
    public static let topics: [Topic] = [.serviceRequests, .offers, .jobs, .reviews, .payments, .providerLocations, .users]

    public static var workers: [WorkerDefinition<AnalyticsModule>] {
        [
            // Each fetched batch at once: one transaction, one upsert per bucket it touches. Half a
            // second of gathering makes batches (and so writes per bucket) fewer; dashboards do not
            // notice the delay.
            .consumer("analytics", summary: "folds requests, offers, jobs, reviews, payments and presence into hour and day aggregates") { module in
                ConsumerWorker(topics: topics, group: "analytics", fetchWaitMaxMillis: 200, gatherMillis: 500) { events in
                    try await module.service.apply(events)
                }
            },
        ]
    }
}
