import Foundation
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP

/// `/v1/categories`, `/v1/providers` (search), `/v1/providers/me/availability`, `/v1/providers/me/location`.
public enum DispatchRoutes {
    struct AvailabilityRequest: Decodable { var online: Bool }
    struct CancelRequest: Decodable { var reason: String? }
    struct StatusRequest: Decodable { var status: String; var finalAmount: Money? }

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
        let requests = router.group("/v1/requests")
        requests.post { request, context in
            let caller = try context.requireCaller()
            let input = try await request.decodeJSONDatesISO8601(ServiceRequestInput.self, context: context)
            return try jsonResponse(try await service.createRequest(caller, input, traceparent: request.traceparent), status: .created)
        }
        requests.get { request, context in
            let caller = try context.requireCaller()
            let parameters = request.uri.queryParameters
            var status: ServiceRequest.Status?
            if let text = parameters.get("status") {
                guard let value = ServiceRequest.Status(rawValue: text) else { throw DomainError.invalidParameter("status", "searching, assigned, cancelled or unfulfilled") }
                status = value
            }
            let page = try request.integerParameter("page", in: 1...10_000) ?? 1
            let limit = try request.integerParameter("limit", in: 1...100) ?? 20
            return try jsonResponse(try await service.myRequests(caller, status: status, page: page, limit: limit))
        }
        requests.get("/{id}") { _, context in
            try jsonResponse(try await service.request(try context.requireCaller(), id: try context.parameters.require("id")))
        }
        requests.post("/{id}/cancel") { request, context in
            let caller = try context.requireCaller()
            let body = try await request.decodeJSON(CancelRequest.self, context: context)
            return try jsonResponse(try await service.cancelRequest(caller, id: try context.parameters.require("id"), reason: body.reason,
                                                                    traceparent: request.traceparent))
        }

        router.get("/v1/offers") { _, context in
            try jsonResponse(try await service.myOffers(try context.requireCaller()))
        }
        router.post("/v1/offers/{id}/accept") { request, context in
            let caller = try context.requireCaller()
            return try jsonResponse(try await service.acceptOffer(caller, offerID: try context.parameters.require("id"), traceparent: request.traceparent))
        }
        router.post("/v1/offers/{id}/decline") { _, context in
            let caller = try context.requireCaller()
            return try jsonResponse(try await service.declineOffer(caller, offerID: try context.parameters.require("id")))
        }

        let jobs = router.group("/v1/jobs")
        jobs.get { request, context in
            let caller = try context.requireCaller()
            let active = try request.uri.queryParameters.get("active").map { text -> Bool in
                guard let value = Bool(text) else { throw DomainError.invalidParameter("active", "true or false") }
                return value
            }
            return try jsonResponse(try await service.myJobs(caller, active: active))
        }
        jobs.get("/{id}") { _, context in
            try jsonResponse(try await service.job(try context.requireCaller(), id: try context.parameters.require("id")))
        }
        jobs.post("/{id}/status") { request, context in
            let caller = try context.requireCaller()
            let body = try await request.decodeJSON(StatusRequest.self, context: context)
            guard let target = Job.Status(rawValue: body.status), target != .cancelled, target != .assigned else {
                throw DomainError.validation("status: en_route, arrived, in_progress or completed (cancel with POST /v1/jobs/{id}/cancel)")
            }
            return try jsonResponse(try await service.advanceJob(caller, id: try context.parameters.require("id"), to: target,
                                                                 finalAmount: body.finalAmount, traceparent: request.traceparent))
        }
        jobs.post("/{id}/cancel") { request, context in
            let caller = try context.requireCaller()
            let body = try await request.decodeJSON(CancelRequest.self, context: context)
            return try jsonResponse(try await service.cancelJob(caller, id: try context.parameters.require("id"), reason: body.reason,
                                                                traceparent: request.traceparent))
        }

        jobs.post("/{id}/reviews") { request, context in
            let caller = try context.requireCaller()
            let input = try await request.decodeJSON(DispatchService.ReviewInput.self, context: context)
            return try jsonResponse(try await service.review(caller, jobID: try context.parameters.require("id"), input, traceparent: request.traceparent),
                                    status: .created)
        }
        jobs.get("/{id}/reviews") { _, context in
            try jsonResponse(try await service.jobReviews(try context.requireCaller(), jobID: try context.parameters.require("id")))
        }
        router.get("/v1/providers/{id}/reviews") { _, context in
            try jsonResponse(try await service.providerReviews(providerID: try context.parameters.require("id")))
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
