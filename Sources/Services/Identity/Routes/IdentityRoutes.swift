import Foundation
import Hummingbird
import MarketplaceHTTP

/// `/v1/auth/*`, `/v1/users/me`, `/.well-known/jwks.json`.
public enum IdentityRoutes {
    struct RegisterRequest: Decodable { var email: String; var password: String; var name: String; var role: String }
    struct LoginRequest: Decodable { var email: String; var password: String }
    struct RefreshRequest: Decodable { var refreshToken: String }

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
            return try jsonResponse(try await service.login(email: body.email, password: body.password, clientAddress: address))
        }
        auth.post("/refresh") { request, context in
            let body = try await request.decodeJSON(RefreshRequest.self, context: context)
            return try jsonResponse(try await service.refresh(body.refreshToken))
        }
        auth.post("/logout") { _, context in
            try await service.logout(try context.requireCaller())
            return Response(status: .noContent)
        }
        let me = router.group("/v1/users/me")
        me.get { _, context in
            try jsonResponse(try await service.me(try context.requireCaller()))
        }
        me.patch { request, context in
            let caller = try context.requireCaller()
            let change = try await request.decodeJSON(IdentityService.ProfileChange.self, context: context)
            return try jsonResponse(try await service.updateProfile(caller, change, traceparent: request.traceparent))
        }
    }
}

