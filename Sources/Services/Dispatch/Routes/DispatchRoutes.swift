import Foundation
import Hummingbird
import MarketplaceHTTP

/// `/v1/categories`, `/v1/providers` (search), `/v1/providers/me/availability`, `/v1/providers/me/location`.
public enum DispatchRoutes {
    struct AvailabilityRequest: Decodable { var online: Bool }

    public static func register(on router: Router<AppRequestContext>, service: DispatchService, search: ProviderSearch) {
        router.get("/v1/providers") { request, _ in
            var parameters: [String: String] = [:]
            for (name, value) in request.uri.queryParameters { parameters[String(name)] = String(value) }
            return try jsonResponse(try await search.search(try ProviderSearch.query(from: parameters)))
        }
        let categories = router.group("/v1/categories")
        categories.get { _, _ in try jsonResponse(try await service.listCategories()) }
        categories.post { request, context in
            let caller = try context.requireRole(.admin)
            let input = try await request.decodeJSON(DispatchService.CategoryInput.self, context: context)
            return try jsonResponse(try await service.createCategory(caller, input), status: .created)
        }
        categories.put("/{slug}") { request, context in
            let caller = try context.requireRole(.admin)
            let input = try await request.decodeJSON(DispatchService.CategoryInput.self, context: context)
            return try jsonResponse(try await service.renameCategory(caller, slug: try context.parameters.require("slug"), input))
        }
        categories.delete("/{slug}") { _, context in
            let caller = try context.requireRole(.admin)
            try await service.retireCategory(caller, slug: try context.parameters.require("slug"))
            return Response(status: .noContent)
        }
        router.put("/v1/providers/me/availability") { request, context in
            let caller = try context.requireCaller()
            let body = try await request.decodeJSON(AvailabilityRequest.self, context: context)
            return try jsonResponse(try await service.setAvailability(caller, online: body.online, traceparent: request.traceparent))
        }
        router.post("/v1/providers/me/location") { request, context in
            let caller = try context.requireCaller()
            let point = try await request.decodeJSON(Coordinates.self, context: context)
            try await service.reportLocation(caller, point, traceparent: request.traceparent)
            return Response(status: .accepted)
        }
    }
}
