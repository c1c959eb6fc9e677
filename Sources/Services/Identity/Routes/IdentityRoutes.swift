import Foundation
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP

/// `/v1/auth/*`, `/v1/users/me`, `/.well-known/jwks.json`.
public enum IdentityRoutes {
    struct RegisterRequest: Decodable { var email: String; var password: String; var name: String; var role: String }
    struct LoginRequest: Decodable { var email: String; var password: String; var deviceToken: String? }
    struct RefreshRequest: Decodable { var refreshToken: String }
    struct ResetRequest: Decodable { var email: String }
    struct ResetConfirmation: Decodable { var token: String; var password: String }

    public static func register(on router: Router<AppRequestContext>, service: IdentityService) {
        router.get("/.well-known/jwks.json") { _, _ in
            var response = try jsonResponse(await service.tokens.jwks())
            response.headers[.cacheControl] = "public, max-age=300"
            return response
        }
        let auth = router.group("/v1/auth")
        auth.post("/register") { request, context in
            let body = try await request.decodeJSON(RegisterRequest.self, context: context)
            let pair = try await service.register(email: body.email, password: body.password, name: body.name, role: body.role,
                                                  traceparent: request.traceparent)
            return try jsonResponse(pair, status: .created)
        }
        auth.post("/login") { request, context in
            let body = try await request.decodeJSON(LoginRequest.self, context: context)
            let address = context.remoteAddress?.ipAddress ?? "unknown"
            return try jsonResponse(try await service.login(email: body.email, password: body.password, clientAddress: address, deviceToken: body.deviceToken))
        }
        auth.post("/refresh") { request, context in
            let body = try await request.decodeJSON(RefreshRequest.self, context: context)
            return try jsonResponse(try await service.refresh(body.refreshToken))
        }
        auth.post("/logout") { _, context in
            try await service.logout(try context.requireCaller())
            return Response(status: .noContent)
        }
        auth.post("/password-reset/request") { request, context in
            let body = try await request.decodeJSON(ResetRequest.self, context: context)
            try await service.requestPasswordReset(email: body.email, traceparent: request.traceparent)
            return Response(status: .accepted)
        }
        auth.post("/password-reset/confirm") { request, context in
            let body = try await request.decodeJSON(ResetConfirmation.self, context: context)
            try await service.confirmPasswordReset(token: body.token, password: body.password)
            return Response(status: .noContent)
        }

        // What the reset e-mail links to: the token stays in the page (read by its script from
        // the URL, never echoed by the server) and goes to the confirm endpoint with the new password.
        router.get("/reset-password") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                            .init("Referrer-Policy")!: "no-referrer"],
                     body: .init(byteBuffer: ByteBuffer(string: ResetPasswordPage.html)))
        }

        let me = router.group("/v1/users/me")
        me.get { _, context in
            let json = try await service.meJSON(try context.requireCaller())
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: json)))
        }
        me.patch { request, context in
            let caller = try context.requireCaller()
            let change = try await request.decodeJSON(IdentityService.ProfileChange.self, context: context)
            return try jsonResponse(try await service.updateProfile(caller, change, traceparent: request.traceparent))
        }
        me.delete { request, context in
            try await service.deleteAccount(try context.requireCaller(), traceparent: request.traceparent)
            return Response(status: .noContent)
        }

        router.put("/v1/providers/me/profile") { request, context in
            let caller = try context.requireCaller()
            let input = try await request.decodeJSON(ProviderProfileInput.self, context: context)
            return try jsonResponse(try await service.putProviderProfile(caller, input, traceparent: request.traceparent))
        }
        router.get("/v1/providers/{id}") { _, context in
            try jsonResponse(try await service.providerView(id: try context.parameters.require("id")))
        }

        let admin = router.group("/v1/admin/users")
        admin.get { request, context in
            let caller = try context.requireRole(.admin)
            return try jsonResponse(try await service.listUsers(caller, try userQuery(request.uri.queryParameters)))
        }
        admin.post("/{id}/suspend") { request, context in
            let caller = try context.requireRole(.admin)
            return try jsonResponse(try await service.setStatus(caller, userID: try context.parameters.require("id"), suspended: true,
                                                                traceparent: request.traceparent))
        }
        admin.post("/{id}/reinstate") { request, context in
            let caller = try context.requireRole(.admin)
            return try jsonResponse(try await service.setStatus(caller, userID: try context.parameters.require("id"), suspended: false,
                                                                traceparent: request.traceparent))
        }
    }

    /// Parses the admin list's query; a bad parameter is a 400 that names it.
    static func userQuery(_ parameters: Parameters) throws -> IdentityService.UserQuery {
        let bad = DomainError.invalidParameter
        var query = IdentityService.UserQuery()
        if let role = parameters.get("role") {
            guard let value = Role(rawValue: role) else { throw bad("role", "admin, provider or client") }
            query.role = value
        }
        if let status = parameters.get("status") {
            guard let value = UserStatus(rawValue: status) else { throw bad("status", "active, suspended or deleted") }
            query.status = value
        }
        if let text = parameters.get("q") {
            guard text.count <= 100 else { throw bad("q", "at most 100 characters") }
            query.text = text
        }
        if let sort = parameters.get("sort") {
            let field = sort.hasPrefix("-") ? String(sort.dropFirst()) : sort
            guard IdentityService.UserQuery.sortable.contains(field) else { throw bad("sort", "createdAt, email or name, optionally prefixed with -") }
            query.sort = sort
        }
        if let page = parameters.get("page") {
            guard let value = Int(page), value >= 1, value <= 10_000 else { throw bad("page", "an integer from 1") }
            query.page = value
        }
        if let limit = parameters.get("limit") {
            guard let value = Int(limit), (1...100).contains(value) else { throw bad("limit", "an integer from 1 to 100") }
            query.limit = value
        }
        return query
    }
}

