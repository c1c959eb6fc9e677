import MarketplaceContracts
import MarketplacePlatform

/// The Dispatch paths and schemas of `/openapi.json`: what the routes in DispatchRoutes accept and answer.
enum DispatchOpenAPI {
    static var fragment: OpenAPIFragment { OpenAPI.dispatch }
}

extension OpenAPI {
    fileprivate static var dispatch: OpenAPIFragment {
        let jobStatus: [String: Any] = ["type": "string", "enum": ["assigned", "en_route", "arrived", "in_progress", "completed", "cancelled"]]
        let actor: [String: Any] = ["type": "string", "enum": ["client", "provider", "admin"]]
        let paths: [String: [String: Any]] = [
            "/v1/categories": [
                "get": operation("Active service categories", tag: "catalog", responses: ok("Categories")),
                "post": operation("Create a category (admin)", tag: "catalog", secured: true, requestBody: "CategoryInput",
                                  responses: merge(ok("Category", "201", "Created"), problems(["400", "401", "403", "409", "422"]))),
            ],
            "/v1/categories/{slug}": [
                "put": operation("Rename a category (admin)", tag: "catalog", secured: true, requestBody: "CategoryChange", parameters: [slugParameter],
                                 responses: merge(ok("Category"), problems(["400", "401", "403", "404", "422"]))),
                "delete": operation("Retire a category (admin)", tag: "catalog", secured: true, parameters: [slugParameter],
                                    responses: merge(noContent, problems(["401", "403", "404"]))),
            ],
            "/v1/providers": ["get": operation("Search providers of a category, near a point, by rating and price", tag: "providers", parameters: [
                query("category", slug, "Category slug", required: true),
                query("near", ["type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?,-?[0-9]+(\\.[0-9]+)?$"],
                      "lat,lng (lat within ±85.05, lng within ±180): only online providers seen in the last minute"),
                query("radiusKm", ["type": "number", "minimum": 0.1, "maximum": 200], "Only with near (else 400); default 10"),
                query("minRating", ["type": "number", "minimum": 0, "maximum": 5], "Minimum rating"),
                query("maxPrice", ["type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"], "Maximum hourly rate"),
                query("sort", ["type": "string", "enum": ["distance", "rating", "price"]], "distance (default with near, needs near), rating (default), price"),
                query("page", ["type": "integer", "minimum": 1, "maximum": 10_000], "Page, from 1"),
                query("limit", ["type": "integer", "minimum": 1, "maximum": 100], "Page size"),
            ], responses: merge(ok("ProviderSearchPage"), problems(["400"])))],
            "/v1/providers/me/availability": ["put": operation("Go online or offline for matching (providers)", tag: "providers", secured: true,
                                                               requestBody: "AvailabilityRequest",
                                                               responses: merge(ok("AvailabilityChanged"), problems(["400", "401", "403", "409"])))],
            "/v1/providers/me/location": ["post": operation("Report my position (providers)", tag: "providers", secured: true, requestBody: "Coordinates",
                                                            responses: merge(["202": ["description": "Accepted"]], problems(["400", "401", "403", "422"])))],
            "/v1/requests": [
                "post": operation("Ask for a service (clients)", tag: "requests", secured: true, requestBody: "ServiceRequestInput",
                                  responses: merge(ok("ServiceRequest", "201", "Created, status searching (with payments: once the card hold is placed)"),
                                                   problems(["400", "401", "402", "403", "422", "503"]))),
                "get": operation("My requests, newest first", tag: "requests", secured: true, parameters: [
                    query("status", ["type": "string", "enum": ["searching", "assigned", "cancelled", "unfulfilled"]], "Only this status"),
                    query("page", ["type": "integer", "minimum": 1, "maximum": 10_000], "Page, from 1"),
                    query("limit", ["type": "integer", "minimum": 1, "maximum": 100], "Page size"),
                ], responses: merge(ok("ServiceRequestPage"), problems(["400", "401"]))),
            ],
            "/v1/requests/{id}": ["get": operation("One of my requests (admins: any)", tag: "requests", secured: true, parameters: [idParameter],
                                                   responses: merge(ok("ServiceRequest"), problems(["401", "404"])))],
            "/v1/requests/{id}/cancel": ["post": operation("Cancel my request while it is searching", tag: "requests", secured: true,
                                                           requestBody: "CancelRequest", parameters: [idParameter],
                                                           responses: merge(ok("ServiceRequest"), problems(["400", "401", "404", "409", "422"])))],
            "/v1/offers": ["get": operation("My pending offers (providers)", tag: "offers", secured: true,
                                            responses: merge(ok("Offers"), problems(["401", "403"])))],
            "/v1/offers/{id}/accept": ["post": operation("Accept an offer: exactly one provider wins a request", tag: "offers", secured: true,
                                                         parameters: [idParameter], responses: merge(ok("Acceptance"), problems(["401", "403", "404", "409"])))],
            "/v1/offers/{id}/decline": ["post": operation("Decline an offer", tag: "offers", secured: true, parameters: [idParameter],
                                                          responses: merge(ok("Offer"), problems(["401", "403", "404", "409"])))],
            "/v1/jobs": ["get": operation("My jobs, as client or provider, newest first", tag: "jobs", secured: true, parameters: [
                query("active", ["type": "boolean"], "true: open jobs only; false: completed or cancelled only"),
            ], responses: merge(ok("Jobs"), problems(["400", "401"])))],
            "/v1/jobs/{id}": ["get": operation("A job (its client, its provider, admins)", tag: "jobs", secured: true, parameters: [idParameter],
                                               responses: merge(ok("Job"), problems(["401", "404"])))],
            "/v1/jobs/{id}/status": ["post": operation("The assigned provider moves the job one step: en_route, arrived, in_progress, completed",
                                                       tag: "jobs", secured: true, requestBody: "JobStatusInput", parameters: [idParameter],
                                                       responses: merge(ok("Job"), problems(["400", "401", "403", "404", "409", "422"])))],
            "/v1/jobs/{id}/cancel": ["post": operation("Cancel an active job with a reason (client, provider or admin); a client cancelling after en_route owes the fee",
                                                       tag: "jobs", secured: true, requestBody: "JobCancellation", parameters: [idParameter],
                                                       responses: merge(ok("Job"), problems(["400", "401", "404", "409", "422"])))],
            "/v1/jobs/{id}/reviews": [
                "post": operation("Review the other party of a completed job (once, within 7 days; hidden until both reviewed or the window closed)",
                                  tag: "reviews", secured: true, requestBody: "ReviewInput", parameters: [idParameter],
                                  responses: merge(ok("Review", "201", "Created"), problems(["400", "401", "404", "409", "422"]))),
                "get": operation("A job's reviews: your own, and the other party's once visible", tag: "reviews", secured: true,
                                 parameters: [idParameter], responses: merge(ok("Reviews"), problems(["401", "404"]))),
            ],
            "/v1/providers/{id}/reviews": ["get": operation("A provider's visible reviews by clients, newest first", tag: "reviews",
                                                            parameters: [idParameter], responses: ok("Reviews"))],
        ]
        // From lists only where the fuzzing users' lists are not empty (their seeded job, its
        // request and conversation): a link into an empty list is reported as a failure.
        let links = [
            OpenAPILink(from: "POST /v1/requests", status: "201", name: "request", to: "GET /v1/requests/{id}", parameters: ["id": "$response.body#/id"]),
            OpenAPILink(from: "POST /v1/requests", status: "201", name: "cancel", to: "POST /v1/requests/{id}/cancel", parameters: ["id": "$response.body#/id"]),
            OpenAPILink(from: "GET /v1/requests", name: "first", to: "GET /v1/requests/{id}", parameters: ["id": "$response.body#/items/0/id"]),
            OpenAPILink(from: "POST /v1/offers/{id}/accept", name: "job", to: "GET /v1/jobs/{id}", parameters: ["id": "$response.body#/jobId"]),
            OpenAPILink(from: "GET /v1/jobs", name: "first", to: "GET /v1/jobs/{id}", parameters: ["id": "$response.body#/0/id"]),
            OpenAPILink(from: "GET /v1/jobs/{id}", name: "status", to: "POST /v1/jobs/{id}/status", parameters: ["id": "$response.body#/id"]),
            OpenAPILink(from: "GET /v1/jobs/{id}", name: "cancel", to: "POST /v1/jobs/{id}/cancel", parameters: ["id": "$response.body#/id"]),
            OpenAPILink(from: "GET /v1/jobs/{id}", name: "reviews", to: "GET /v1/jobs/{id}/reviews", parameters: ["id": "$response.body#/id"]),
            OpenAPILink(from: "GET /v1/jobs/{id}", name: "review", to: "POST /v1/jobs/{id}/reviews", parameters: ["id": "$response.body#/id"]),
            OpenAPILink(from: "GET /v1/jobs/{id}", name: "request", to: "GET /v1/requests/{id}", parameters: ["id": "$response.body#/requestId"]),
            OpenAPILink(from: "GET /v1/jobs/{id}", name: "providerReviews", to: "GET /v1/providers/{id}/reviews", parameters: ["id": "$response.body#/providerId"]),
            OpenAPILink(from: "POST /v1/jobs/{id}/status", name: "job", to: "GET /v1/jobs/{id}", parameters: ["id": "$response.body#/id"]),
        ]
        // An amount a payment service can charge: whole minor units (at most 3 decimals; the currency decides).
        let holdInput = object(["amount": ["type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,3})?$", "description": "A decimal amount, e.g. \"42.50\""],
                                "currency": currency], required: ["amount", "currency"])
        let schemas: [String: Any] = [
            "Category": object(["slug": string, "name": string, "description": string, "defaultHold": money,
                                "status": ["type": "string", "enum": ["active", "retired"]]],
                               required: ["slug", "name", "status"]),
            "Categories": ["type": "array", "items": ref("Category")],
            "CategoryInput": object(["slug": slug, "name": name(), "description": string, "defaultHold": holdInput], required: ["slug", "name"]),
            "CategoryChange": object(["name": name(), "description": string, "defaultHold": holdInput], required: ["name"]),
            "AvailabilityRequest": object(["online": ["type": "boolean"]], required: ["online"]),
            "AvailabilityChanged": object(["providerId": string, "online": ["type": "boolean"], "categories": ["type": "array", "items": string],
                                           "at": ["type": "string", "format": "date-time"]], required: ["providerId", "online", "categories", "at"]),
            "Coordinates": object(["lat": ["type": "number", "minimum": -85.05112878, "maximum": 85.05112878],
                                  "lng": ["type": "number", "minimum": -180, "maximum": 180]], required: ["lat", "lng"]),
            "ProviderSearchPage": object(["items": ["type": "array", "items": object(
                ["providerId": string, "categories": ["type": "array", "items": string], "hourlyRate": amount, "currency": string,
                 "rating": ["type": "number"], "distanceKm": ["type": "number"]], required: ["providerId", "categories", "hourlyRate", "currency"])],
                                          "total": ["type": "integer"], "page": ["type": "integer"], "limit": ["type": "integer"]],
                                         required: ["items", "total", "page", "limit"]),
            "ServiceRequestInput": object(["categoryId": slug, "location": ref("Coordinates"), "address": name(maxLength: 300),
                                           "description": name(maxLength: 2000),
                                           "scheduledFor": ["type": "string", "format": "date-time", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}",
                                                            "description": "ISO 8601, between now and 90 days ahead"],
                                           "budget": object(["amount": positiveAmount, "currency": currency], required: ["amount", "currency"])],
                                          required: ["categoryId", "location", "address", "description"]),
            "ServiceRequest": object(["id": string, "clientId": string, "categoryId": string, "location": ref("Coordinates"), "address": string,
                                      "description": string, "scheduledFor": ["type": "string", "format": "date-time"],
                                      "budget": object(["amount": amount, "currency": string], required: ["amount", "currency"]),
                                      "hold": money, "paymentId": string,
                                      "status": ["type": "string", "enum": ["searching", "assigned", "cancelled", "unfulfilled"]],
                                      "cancellationReason": string, "createdAt": ["type": "string", "format": "date-time"]],
                                     required: ["id", "clientId", "categoryId", "location", "address", "description", "status", "createdAt"]),
            "ServiceRequestPage": object(["items": ["type": "array", "items": ref("ServiceRequest")], "total": ["type": "integer"],
                                          "page": ["type": "integer"], "limit": ["type": "integer"]], required: ["items", "total", "page", "limit"]),
            "CancelRequest": object(["reason": ["type": "string", "maxLength": 500]], required: []),
            "JobCancellation": object(["reason": name(maxLength: 500)], required: ["reason"]),
            "Offer": object(["id": string, "requestId": string, "categoryId": string, "wave": ["type": "integer"], "distanceKm": ["type": "number"],
                             "status": ["type": "string", "enum": ["pending", "accepted", "declined", "withdrawn", "expired"]],
                             "expiresAt": ["type": "string", "format": "date-time"]],
                            required: ["id", "requestId", "categoryId", "wave", "distanceKm", "status", "expiresAt"]),
            "Offers": ["type": "array", "items": ref("Offer")],
            "Acceptance": object(["offer": ref("Offer"), "jobId": string], required: ["offer", "jobId"]),
            "JobStatusInput": object(["status": ["type": "string", "enum": ["en_route", "arrived", "in_progress", "completed"]],
                                      "finalAmount": holdInput], required: ["status"]),
            "Job": object(["id": string, "requestId": string, "clientId": string, "providerId": string, "categoryId": string,
                           "status": jobStatus,
                           "timeline": ["type": "array", "items": object(["status": jobStatus, "at": ["type": "string", "format": "date-time"],
                                                                          "by": actor], required: ["status", "at", "by"])],
                           "cancelledBy": actor, "cancellationReason": string,
                           "cancellationFee": object(["amount": amount, "currency": string], required: ["amount", "currency"]),
                           "hold": money, "finalAmount": money,
                           "createdAt": ["type": "string", "format": "date-time"], "updatedAt": ["type": "string", "format": "date-time"]],
                          required: ["id", "requestId", "clientId", "providerId", "status", "timeline", "createdAt", "updatedAt"]),
            "Jobs": ["type": "array", "items": ref("Job")],
            "ReviewInput": object(["rating": ["type": "integer", "minimum": 1, "maximum": 5], "text": ["type": "string", "maxLength": 2000]],
                                  required: ["rating"]),
            "Review": object(["jobId": string, "authorId": string, "authorRole": actor, "subjectId": string,
                              "rating": ["type": "integer", "minimum": 1, "maximum": 5], "text": string, "visible": ["type": "boolean"],
                              "createdAt": ["type": "string", "format": "date-time"]],
                             required: ["jobId", "authorId", "authorRole", "subjectId", "rating", "text", "visible", "createdAt"]),
            "Reviews": ["type": "array", "items": ref("Review")],
        ]
        return OpenAPIFragment(paths: paths, schemas: schemas, links: links)
    }
}
