import Foundation

/// The OpenAPI 3.1 description of the HTTP API, served at `/openapi.json`. A test compares its
/// operations with the router's routes, so a route cannot be added or removed without it.
public enum OpenAPIDocument {
    public static func json() -> Data {
        try! JSONSerialization.data(withJSONObject: document(), options: [.sortedKeys, .prettyPrinted])
    }

    static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }

    static func body(_ schema: String) -> [String: Any] {
        ["required": true, "content": ["application/json": ["schema": ref(schema)]]]
    }

    static func ok(_ schema: String, _ status: String = "200", _ description: String = "Success") -> [String: Any] {
        [status: ["description": description, "content": ["application/json": ["schema": ref(schema)]]]]
    }

    static func problems(_ statuses: [String]) -> [String: Any] {
        let descriptions = ["400": "Malformed request (missing_field, invalid_field, malformed_json, invalid_parameter)",
                            "401": "Not authenticated (unauthorized, invalid_token, invalid_credentials, ...)",
                            "403": "Not allowed (forbidden, account_suspended)", "404": "Not found", "409": "Conflict",
                            "413": "Body too large", "422": "A field is invalid (validation_failed, weak_password)",
                            "429": "Too many attempts (Retry-After)", "503": "A dependency does not answer"]
        var result: [String: Any] = [:]
        for status in statuses {
            result[status] = ["description": descriptions[status] ?? "Error",
                              "content": ["application/problem+json": ["schema": ref("Problem")]]]
        }
        return result
    }

    static func merge(_ parts: [String: Any]...) -> [String: Any] {
        parts.reduce(into: [:]) { result, part in result.merge(part) { first, _ in first } }
    }

    static func operation(_ summary: String, tag: String, secured: Bool = false, requestBody: String? = nil,
                          parameters: [[String: Any]] = [], responses: [String: Any]) -> [String: Any] {
        var operation: [String: Any] = ["summary": summary, "tags": [tag], "responses": responses]
        if secured { operation["security"] = [["bearerAuth": [String]()]] }
        if let requestBody { operation["requestBody"] = body(requestBody) }
        if !parameters.isEmpty { operation["parameters"] = parameters }
        return operation
    }

    static func query(_ name: String, _ schema: [String: Any], _ description: String) -> [String: Any] {
        ["name": name, "in": "query", "required": false, "schema": schema, "description": description]
    }

    static var idParameter: [String: Any] { ["name": "id", "in": "path", "required": true, "schema": ["type": "string"]] }
    static var slugParameter: [String: Any] { ["name": "slug", "in": "path", "required": true, "schema": ["type": "string"]] }
    static var noContent: [String: Any] { ["204": ["description": "Done"]] }

    static func document() -> [String: Any] {
        let string: [String: Any] = ["type": "string"]
        let paths: [String: Any] = [
            "/health/live": ["get": operation("The process runs", tag: "health", responses: ["200": ["description": "Live"]])],
            "/health/ready": ["get": operation("Kafka, MongoDB and Redis answer", tag: "health",
                                               responses: merge(ok("Readiness"), ["503": ["description": "A dependency does not answer",
                                                                                           "content": ["application/json": ["schema": ref("Readiness")]]]]))],
            "/metrics": ["get": operation("Prometheus metrics", tag: "health",
                                          responses: ["200": ["description": "Text format 0.0.4", "content": ["text/plain": ["schema": string]]]])],
            "/openapi.json": ["get": operation("This document", tag: "health", responses: ["200": ["description": "OpenAPI 3.1"]])],
            "/.well-known/jwks.json": ["get": operation("Public keys that verify access tokens", tag: "auth", responses: ok("JWKS"))],
            "/v1/auth/register": ["post": operation("Create an account (client or provider)", tag: "auth", requestBody: "RegisterRequest",
                                                    responses: merge(ok("TokenPair", "201", "Registered"), problems(["400", "409", "413", "422"])))],
            "/v1/auth/login": ["post": operation("Sign in", tag: "auth", requestBody: "LoginRequest",
                                                 responses: merge(ok("TokenPair"), problems(["400", "401", "403", "429"])))],
            "/v1/auth/refresh": ["post": operation("Exchange a refresh token (rotated; a reused one revokes the session)", tag: "auth",
                                                   requestBody: "RefreshRequest", responses: merge(ok("TokenPair"), problems(["400", "401"])))],
            "/v1/auth/logout": ["post": operation("End this session (its tokens stop working at once)", tag: "auth", secured: true,
                                                  responses: merge(noContent, problems(["401"])))],
            "/v1/auth/password-reset/request": ["post": operation("Ask for a reset e-mail (always 202)", tag: "auth", requestBody: "PasswordResetRequest",
                                                                  responses: merge(["202": ["description": "Accepted"]], problems(["400"])))],
            "/v1/auth/password-reset/confirm": ["post": operation("Set a new password with the e-mailed token; ends every session", tag: "auth",
                                                                  requestBody: "PasswordResetConfirmation",
                                                                  responses: merge(noContent, problems(["400", "422"])))],
            "/v1/users/me": [
                "get": operation("My account", tag: "users", secured: true, responses: merge(ok("User"), problems(["401", "404"]))),
                "patch": operation("Change my name, phone, avatar or addresses", tag: "users", secured: true, requestBody: "ProfileChange",
                                   responses: merge(ok("User"), problems(["400", "401", "404", "422"]))),
                "delete": operation("Delete (anonymise) my account", tag: "users", secured: true, responses: merge(noContent, problems(["401", "404"]))),
            ],
            "/v1/providers/me/profile": ["put": operation("Set my provider profile (providers only)", tag: "providers", secured: true,
                                                          requestBody: "ProviderProfileInput",
                                                          responses: merge(ok("PublicProvider"), problems(["400", "401", "403", "422"])))],
            "/v1/providers/{id}": ["get": operation("A provider's public profile", tag: "providers", parameters: [idParameter],
                                                    responses: merge(ok("PublicProvider"), problems(["404"])))],
            "/v1/categories": [
                "get": operation("Active service categories", tag: "catalog", responses: ok("Categories")),
                "post": operation("Create a category (admin)", tag: "catalog", secured: true, requestBody: "CategoryInput",
                                  responses: merge(ok("Category", "201", "Created"), problems(["400", "401", "403", "409", "422"]))),
            ],
            "/v1/categories/{slug}": [
                "put": operation("Rename a category (admin)", tag: "catalog", secured: true, requestBody: "CategoryInput", parameters: [slugParameter],
                                 responses: merge(ok("Category"), problems(["400", "401", "403", "404", "422"]))),
                "delete": operation("Retire a category (admin)", tag: "catalog", secured: true, parameters: [slugParameter],
                                    responses: merge(noContent, problems(["401", "403", "404"]))),
            ],
            "/v1/providers": ["get": operation("Search providers of a category, near a point, by rating and price", tag: "providers", parameters: [
                ["name": "category", "in": "query", "required": true, "schema": string, "description": "Category slug"],
                query("near", ["type": "string", "pattern": "^-?[0-9.]+,-?[0-9.]+$"], "lat,lng: only online providers seen in the last minute"),
                query("radiusKm", ["type": "number", "minimum": 0.1, "maximum": 200], "With near; default 10"),
                query("minRating", ["type": "number", "minimum": 0, "maximum": 5], "Minimum rating"),
                query("maxPrice", ["type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$"], "Maximum hourly rate"),
                query("sort", ["type": "string", "enum": ["distance", "rating", "price"]], "distance (default with near), rating (default), price"),
                query("page", ["type": "integer", "minimum": 1], "Page, from 1"),
                query("limit", ["type": "integer", "minimum": 1, "maximum": 100], "Page size"),
            ], responses: merge(ok("ProviderSearchPage"), problems(["400"])))],
            "/v1/providers/me/availability": ["put": operation("Go online or offline for matching (providers)", tag: "providers", secured: true,
                                                               requestBody: "AvailabilityRequest",
                                                               responses: merge(ok("AvailabilityChanged"), problems(["400", "401", "403", "409"])))],
            "/v1/providers/me/location": ["post": operation("Report my position (providers)", tag: "providers", secured: true, requestBody: "Coordinates",
                                                            responses: merge(["202": ["description": "Accepted"]], problems(["400", "401", "403", "422"])))],
            "/v1/requests": [
                "post": operation("Ask for a service (clients)", tag: "requests", secured: true, requestBody: "ServiceRequestInput",
                                  responses: merge(ok("ServiceRequest", "201", "Created, status searching"), problems(["400", "401", "403", "422"]))),
                "get": operation("My requests, newest first", tag: "requests", secured: true, parameters: [
                    query("status", ["type": "string", "enum": ["searching", "assigned", "cancelled", "unfulfilled"]], "Only this status"),
                    query("page", ["type": "integer", "minimum": 1], "Page, from 1"),
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
                                                       tag: "jobs", secured: true, requestBody: "CancelRequest", parameters: [idParameter],
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
            "/v1/admin/users": ["get": operation("Find users (admin)", tag: "admin", secured: true, parameters: [
                query("role", ["type": "string", "enum": ["admin", "provider", "client"]], "Only this role"),
                query("status", ["type": "string", "enum": ["active", "suspended", "deleted"]], "Only this status"),
                query("q", string, "Text in the name or e-mail (case-insensitive)"),
                query("sort", ["type": "string", "enum": ["createdAt", "-createdAt", "email", "-email", "name", "-name"]], "Order"),
                query("page", ["type": "integer", "minimum": 1], "Page, from 1"),
                query("limit", ["type": "integer", "minimum": 1, "maximum": 100], "Page size"),
            ], responses: merge(ok("UserPage"), problems(["400", "401", "403"])))],
            "/v1/admin/users/{id}/suspend": ["post": operation("Suspend an account; its sessions end at once (admin)", tag: "admin", secured: true,
                                                               parameters: [idParameter], responses: merge(ok("User"), problems(["401", "403", "404", "409"])))],
            "/v1/admin/users/{id}/reinstate": ["post": operation("Reinstate a suspended account (admin)", tag: "admin", secured: true,
                                                                 parameters: [idParameter], responses: merge(ok("User"), problems(["401", "403", "404", "409"])))],
        ]
        func object(_ properties: [String: Any], required: [String]) -> [String: Any] {
            ["type": "object", "properties": properties, "required": required]
        }
        let money: [String: Any] = ["type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$", "description": "A decimal amount, e.g. \"42.50\""]
        let address = object(["label": string, "line1": string, "city": string, "postalCode": string, "country": string], required: ["line1", "city", "country"])
        let pricing = object(["currency": ["type": "string", "pattern": "^[A-Z]{3}$"], "hourlyRate": money, "minimumFee": money], required: ["currency", "hourlyRate"])
        let hours = object(["day": ["type": "integer", "minimum": 0, "maximum": 6], "start": string, "end": string], required: ["day", "start", "end"])
        let role: [String: Any] = ["type": "string", "enum": ["admin", "provider", "client"]]
        let jobStatus: [String: Any] = ["type": "string", "enum": ["assigned", "en_route", "arrived", "in_progress", "completed", "cancelled"]]
        let actor: [String: Any] = ["type": "string", "enum": ["client", "provider", "admin"]]
        let user = object(["id": string, "email": string, "name": string, "role": role,
                           "status": ["type": "string", "enum": ["active", "suspended", "deleted"]], "phone": string, "avatarURL": string,
                           "addresses": ["type": "array", "items": address], "createdAt": ["type": "string", "format": "date-time"]],
                          required: ["id", "email", "name", "role", "status", "addresses", "createdAt"])
        let schemas: [String: Any] = [
            "Problem": object(["type": string, "title": string, "status": ["type": "integer"], "code": string, "detail": string,
                               "retryAfter": ["type": "integer"]], required: ["type", "title", "status", "code"]),
            "Readiness": object(["status": string, "checks": ["type": "object", "additionalProperties": string]], required: ["status", "checks"]),
            "JWKS": object(["keys": ["type": "array", "items": object(["kty": string, "crv": string, "alg": string, "use": string, "kid": string, "x": string, "y": string],
                                                                       required: ["kty", "crv", "alg", "kid", "x", "y"])]], required: ["keys"]),
            "RegisterRequest": object(["email": ["type": "string", "format": "email"], "password": ["type": "string", "minLength": 10, "maxLength": 128],
                                       "name": string, "role": ["type": "string", "enum": ["client", "provider"]]], required: ["email", "password", "name", "role"]),
            "LoginRequest": object(["email": string, "password": string], required: ["email", "password"]),
            "RefreshRequest": object(["refreshToken": string], required: ["refreshToken"]),
            "PasswordResetRequest": object(["email": string], required: ["email"]),
            "PasswordResetConfirmation": object(["token": string, "password": string], required: ["token", "password"]),
            "TokenPair": object(["user": ref("User"), "accessToken": string, "refreshToken": string, "expiresIn": ["type": "integer"], "tokenType": string],
                                required: ["user", "accessToken", "refreshToken", "expiresIn", "tokenType"]),
            "User": user,
            "ProfileChange": object(["name": string, "phone": string, "avatarURL": string, "addresses": ["type": "array", "items": address]], required: []),
            "ProviderProfileInput": object(["categories": ["type": "array", "items": string], "bio": string, "serviceRadiusKm": ["type": "number"],
                                            "pricing": pricing, "workingHours": ["type": "array", "items": hours]],
                                           required: ["categories", "bio", "serviceRadiusKm", "pricing", "workingHours"]),
            "PublicProvider": object(["id": string, "name": string, "avatarURL": string, "categories": ["type": "array", "items": string], "bio": string,
                                      "serviceRadiusKm": ["type": "number"], "pricing": pricing, "workingHours": ["type": "array", "items": hours],
                                      "rating": ["type": "number", "minimum": 1, "maximum": 5], "ratingCount": ["type": "integer"]],
                                     required: ["id", "name", "categories", "bio", "serviceRadiusKm", "pricing", "workingHours"]),
            "Category": object(["slug": string, "name": string, "description": string, "status": ["type": "string", "enum": ["active", "retired"]]],
                               required: ["slug", "name", "status"]),
            "Categories": ["type": "array", "items": ref("Category")],
            "CategoryInput": object(["slug": ["type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"], "name": string, "description": string], required: ["name"]),
            "AvailabilityRequest": object(["online": ["type": "boolean"]], required: ["online"]),
            "AvailabilityChanged": object(["providerId": string, "online": ["type": "boolean"], "categories": ["type": "array", "items": string],
                                           "at": ["type": "string", "format": "date-time"]], required: ["providerId", "online", "categories", "at"]),
            "Coordinates": object(["lat": ["type": "number", "minimum": -85.05112878, "maximum": 85.05112878],
                                  "lng": ["type": "number", "minimum": -180, "maximum": 180]], required: ["lat", "lng"]),
            "ProviderSearchPage": object(["items": ["type": "array", "items": object(
                ["providerId": string, "categories": ["type": "array", "items": string], "hourlyRate": money, "currency": string,
                 "rating": ["type": "number"], "distanceKm": ["type": "number"]], required: ["providerId", "categories", "hourlyRate", "currency"])],
                                          "total": ["type": "integer"], "page": ["type": "integer"], "limit": ["type": "integer"]],
                                         required: ["items", "total", "page", "limit"]),
            "ServiceRequestInput": object(["categoryId": string, "location": ref("Coordinates"), "address": string, "description": string,
                                           "scheduledFor": ["type": "string", "format": "date-time"],
                                           "budget": object(["amount": money, "currency": string], required: ["amount", "currency"])],
                                          required: ["categoryId", "location", "address", "description"]),
            "ServiceRequest": object(["id": string, "clientId": string, "categoryId": string, "location": ref("Coordinates"), "address": string,
                                      "description": string, "scheduledFor": ["type": "string", "format": "date-time"],
                                      "budget": object(["amount": money, "currency": string], required: ["amount", "currency"]),
                                      "status": ["type": "string", "enum": ["searching", "assigned", "cancelled", "unfulfilled"]],
                                      "cancellationReason": string, "createdAt": ["type": "string", "format": "date-time"]],
                                     required: ["id", "clientId", "categoryId", "location", "address", "description", "status", "createdAt"]),
            "ServiceRequestPage": object(["items": ["type": "array", "items": ref("ServiceRequest")], "total": ["type": "integer"],
                                          "page": ["type": "integer"], "limit": ["type": "integer"]], required: ["items", "total", "page", "limit"]),
            "CancelRequest": object(["reason": string], required: []),
            "Offer": object(["id": string, "requestId": string, "categoryId": string, "wave": ["type": "integer"], "distanceKm": ["type": "number"],
                             "status": ["type": "string", "enum": ["pending", "accepted", "declined", "withdrawn", "expired"]],
                             "expiresAt": ["type": "string", "format": "date-time"]],
                            required: ["id", "requestId", "categoryId", "wave", "distanceKm", "status", "expiresAt"]),
            "Offers": ["type": "array", "items": ref("Offer")],
            "Acceptance": object(["offer": ref("Offer"), "jobId": string], required: ["offer", "jobId"]),
            "JobStatusInput": object(["status": ["type": "string", "enum": ["en_route", "arrived", "in_progress", "completed"]]], required: ["status"]),
            "Job": object(["id": string, "requestId": string, "clientId": string, "providerId": string, "categoryId": string,
                           "status": jobStatus,
                           "timeline": ["type": "array", "items": object(["status": jobStatus, "at": ["type": "string", "format": "date-time"],
                                                                          "by": actor], required: ["status", "at", "by"])],
                           "cancelledBy": actor, "cancellationReason": string,
                           "cancellationFee": object(["amount": money, "currency": string], required: ["amount", "currency"]),
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
            "UserPage": object(["items": ["type": "array", "items": ref("User")], "total": ["type": "integer"], "page": ["type": "integer"],
                                "limit": ["type": "integer"]], required: ["items", "total", "page", "limit"]),
        ]
        return [
            "openapi": "3.1.0",
            "info": ["title": "Marketplace API", "version": "1.0.0",
                     "description": "Errors are application/problem+json documents with a stable `code`."],
            "paths": paths,
            "components": ["schemas": schemas,
                           "securitySchemes": ["bearerAuth": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT (ES256)"]]],
        ]
    }

    /// Every "METHOD /path" the document describes.
    public static var operations: Set<String> {
        guard let paths = document()["paths"] as? [String: [String: Any]] else { return [] }
        return Set(paths.flatMap { path, methods in methods.keys.map { "\($0.uppercased()) \(path)" } })
    }
}
