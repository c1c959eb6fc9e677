import Foundation
import MarketplaceContracts
import MarketplacePlatform

/// The Identity paths and schemas of `/openapi.json`: what the routes in IdentityRoutes accept and answer.
enum IdentityOpenAPI {
    static var fragment: OpenAPIFragment { OpenAPI.identity }
}

extension OpenAPI {
    fileprivate static var identity: OpenAPIFragment {
        let address = object(["label": string, "line1": string, "city": string, "postalCode": string, "country": string], required: ["line1", "city", "country"])
        let pricing = object(["currency": ["type": "string", "pattern": "^[A-Z]{3}$"], "hourlyRate": amount, "minimumFee": amount], required: ["currency", "hourlyRate"])
        let clock: [String: Any] = ["type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$", "description": "HH:mm; start before end"]
        let hours = object(["day": ["type": "integer", "minimum": 0, "maximum": 6], "start": clock, "end": clock], required: ["day", "start", "end"])
        let pricingInput = object(["currency": currency, "hourlyRate": positiveAmount, "minimumFee": amount], required: ["currency", "hourlyRate"])
        let email: [String: Any] = ["type": "string", "format": "email", "maxLength": 254, "pattern": "^\\s*[^@\\s]+@[^@\\s]+\\.[^@\\s]+\\s*$"]
        let password: [String: Any] = ["type": "string", "minLength": 10, "maxLength": 128,
                                       "description": "10 to 128 characters, at least 4 different ones, not a common password (else 422 weak_password)"]
        let role: [String: Any] = ["type": "string", "enum": ["admin", "provider", "client"]]
        let user = object(["id": string, "email": string, "name": string, "role": role,
                           "status": ["type": "string", "enum": ["active", "suspended", "deleted"]], "phone": string, "avatarURL": string,
                           "addresses": ["type": "array", "items": address], "createdAt": ["type": "string", "format": "date-time"]],
                          required: ["id", "email", "name", "role", "status", "addresses", "createdAt"])
        let paths: [String: [String: Any]] = [
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
            "/reset-password": ["get": operation("The page the reset e-mail links to: a form that sets a new password with the link's token",
                                                 tag: "auth", parameters: [query("token", ["type": "string"], "The e-mailed token")],
                                                 responses: ["200": ["description": "The page", "content": ["text/html": ["schema": ["type": "string"]]]]])],
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
            "/v1/admin/users": ["get": operation("Find users (admin)", tag: "admin", secured: true, parameters: [
                query("role", ["type": "string", "enum": ["admin", "provider", "client"]], "Only this role"),
                query("status", ["type": "string", "enum": ["active", "suspended", "deleted"]], "Only this status"),
                query("q", ["type": "string", "maxLength": 100], "Text in the name or e-mail (case-insensitive)"),
                query("sort", ["type": "string", "enum": ["createdAt", "-createdAt", "email", "-email", "name", "-name"]], "Order"),
                query("page", ["type": "integer", "minimum": 1, "maximum": 10_000], "Page, from 1"),
                query("limit", ["type": "integer", "minimum": 1, "maximum": 100], "Page size"),
            ], responses: merge(ok("UserPage"), problems(["400", "401", "403"])))],
            "/v1/admin/users/{id}/suspend": ["post": operation("Suspend an account; its sessions end at once (admin)", tag: "admin", secured: true,
                                                               parameters: [idParameter], responses: merge(ok("User"), problems(["401", "403", "404", "409"])))],
            "/v1/admin/users/{id}/reinstate": ["post": operation("Reinstate a suspended account (admin)", tag: "admin", secured: true,
                                                                 parameters: [idParameter], responses: merge(ok("User"), problems(["401", "403", "404", "409"])))],
        ]
        let schemas: [String: Any] = [
            "JWKS": object(["keys": ["type": "array", "items": object(["kty": string, "crv": string, "alg": string, "use": string, "kid": string, "x": string, "y": string],
                                                                       required: ["kty", "crv", "alg", "kid", "x", "y"])]], required: ["keys"]),
            "RegisterRequest": object(["email": email, "password": password, "name": name(),
                                       "role": ["type": "string", "enum": ["client", "provider"]]], required: ["email", "password", "name", "role"]),
            "LoginRequest": object(["email": string, "password": string,
                                    "deviceToken": ["type": "string", "maxLength": 200,
                                                    "description": "The deviceToken of an earlier login from this device: a known device is throttled only by its own failures"]],
                                   required: ["email", "password"]),
            "RefreshRequest": object(["refreshToken": string], required: ["refreshToken"]),
            "PasswordResetRequest": object(["email": string], required: ["email"]),
            "PasswordResetConfirmation": object(["token": text(), "password": password], required: ["token", "password"]),
            "TokenPair": object(["user": ref("User"), "accessToken": string, "refreshToken": string, "expiresIn": ["type": "integer"], "tokenType": string,
                                 "deviceToken": ["type": "string", "description": "Present at the next login from this device (login and registration)"]],
                                required: ["user", "accessToken", "refreshToken", "expiresIn", "tokenType"]),
            "User": user,
            "ProfileChange": ["type": "object", "minProperties": 1, "description": "At least one field to change",
                              "properties": ["name": name(), "phone": nullable(["type": "string", "pattern": "^\\+?[0-9 ()-]{6,20}$"]),
                                             "avatarURL": nullable(["type": "string",
                                                                    "pattern": "^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~:/?#@!$&'()*+,;=%-]*)?$"]),
                                             "addresses": nullable(["type": "array", "items": address, "maxItems": 10])]],
            "ProviderProfileInput": object(["categories": ["type": "array", "items": ["type": "string", "pattern": "^[a-z0-9-]{1,64}$"], "minItems": 1, "maxItems": 20],
                                            "bio": ["type": "string", "maxLength": 2000], "serviceRadiusKm": ["type": "number", "minimum": 0.5, "maximum": 200],
                                            "pricing": pricingInput, "workingHours": ["type": "array", "items": hours],
                                            "timeZone": ["type": "string", "enum": TimeZone.knownTimeZoneIdentifiers.filter { $0.contains("/") }.sorted() + ["UTC"],
                                                         "description": "An IANA time zone: the days of my analytics (UTC when left out)"]],
                                           required: ["categories", "bio", "serviceRadiusKm", "pricing", "workingHours"]),
            "PublicProvider": object(["id": string, "name": string, "avatarURL": string, "categories": ["type": "array", "items": string], "bio": string,
                                      "serviceRadiusKm": ["type": "number"], "pricing": pricing, "workingHours": ["type": "array", "items": hours],
                                      "rating": ["type": "number", "minimum": 1, "maximum": 5], "ratingCount": ["type": "integer"]],
                                     required: ["id", "name", "categories", "bio", "serviceRadiusKm", "pricing", "workingHours"]),
            "UserPage": object(["items": ["type": "array", "items": ref("User")], "total": ["type": "integer"], "page": ["type": "integer"],
                                "limit": ["type": "integer"]], required: ["items", "total", "page", "limit"]),
        ]
        return OpenAPIFragment(paths: paths, schemas: schemas)
    }
}
