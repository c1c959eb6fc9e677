import Foundation
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP

/// `/v1/providers/me/analytics` (providers: their own only) and the admin's
/// `/v1/admin/analytics/overview` and `/v1/admin/analytics/areas`.
public enum AnalyticsRoutes {
    public static func register(on router: Router<AppRequestContext>, service: AnalyticsService) {
        router.get("/v1/providers/me/analytics") { request, context in
            let caller = try context.requireCaller()
            let query = request.uri.queryParameters
            return try jsonResponse(try await service.providerAnalytics(caller, from: query.get("from"), to: query.get("to"), granularity: query.get("granularity")))
        }
        router.get("/v1/admin/analytics/overview") { request, context in
            let caller = try context.requireRole(.admin)
            let query = request.uri.queryParameters
            return try jsonResponse(try await service.overview(caller, from: query.get("from"), to: query.get("to"), granularity: query.get("granularity"),
                                                               category: query.get("category")))
        }
        router.get("/v1/admin/analytics/areas") { request, context in
            let caller = try context.requireRole(.admin)
            let query = request.uri.queryParameters
            return try jsonResponse(AreaList(areas: try await service.areas(caller, from: query.get("from"), to: query.get("to"))))
        }
    }

    struct AreaList: Encodable { var areas: [AnalyticsService.AreaFigures] }
}
