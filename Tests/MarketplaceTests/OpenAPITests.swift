import Foundation
import Hummingbird
import HummingbirdTesting
import MarketplaceApp
import MarketplaceIdentity
import MarketplacePlatform
import Testing

@Suite("OpenAPI document and key rotation", .timeLimit(.minutes(2)))
struct OpenAPITests {
    @Test("the document describes exactly the routes the server has, and is valid OpenAPI 3.1")
    func documentMatchesRoutes() async throws {
        let h = try await DispatchTests.harness(payments: PaymentTests.Options())
        let router = try h.composition.makeRouter(api: true)
        let document = OpenAPIDocument(modules: MarketplaceApp.modules)
        let routes = Set(router.routes.map { route in
            // RouterPath prints captures as {name} already; normalise a leading slash.
            let path = "\(route.path)".hasPrefix("/") ? "\(route.path)" : "/\(route.path)"
            return "\(route.method.rawValue) \(path)"
        })
        #expect(routes == document.operations, "undocumented: \(routes.subtracting(document.operations)); documented but missing: \(document.operations.subtracting(routes))")

        try await h.app.test(.router) { client in
            try await client.execute(uri: "/openapi.json", method: .get) { response throws in
                #expect(response.status == .ok)
                let path = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(UUID()).json").path
                try Data(response.body.readableBytesView).write(to: URL(fileURLWithPath: path))
                defer { try? FileManager.default.removeItem(atPath: path) }
                let status = try await ChildProcess.python("-c", "import json, sys; from openapi_spec_validator import validate; validate(json.load(open(sys.argv[1])))", path)
                #expect(status == 0, "openapi-spec-validator refused the document")
            }
        }
        await DispatchTests.close(h)
    }

    @Test("an undeclared method on a known path answers 405 with Allow; an unknown path stays 404")
    func methodNotAllowed() async throws {
        let h = try await DispatchTests.harness()
        try await h.app.test(.router) { client in
            for (method, path, allow) in [(HTTPRequest.Method.delete, "/v1/auth/login", "POST"), (.post, "/v1/providers/some-id", "GET"),
                                          (.put, "/v1/jobs/some-id/reviews", "GET, POST"), (.patch, "/health/ready", "GET")] {
                try await client.execute(uri: path, method: method) { response in
                    #expect(response.status == .methodNotAllowed, "\(method) \(path)")
                    #expect(response.headers[.allow] == allow, "\(method) \(path)")
                    #expect(response.headers[.contentType] == "application/problem+json")
                    #expect((try? IdentityTests.problem(response).code) == "method_not_allowed")
                }
            }
            try await client.execute(uri: "/v1/no-such-thing", method: .get) { #expect($0.status == .notFound) }
        }
        await DispatchTests.close(h)
    }

    @Test("what the server refuses, the document refuses too: refused bodies fail their schema")
    func documentSaysWhatTheServerValidates() async throws {
        let h = try await DispatchTests.harness()
        let refusedJSON: Data = try await h.app.test(.router) { client in
            var refused: [[String: Any]] = []
            let (admin, category) = try await DispatchTests.adminAndCategory(h, client)
            let customer = try await IdentityTests.register(client, email: IdentityTests.email())
            let provider = try await IdentityTests.register(client, email: IdentityTests.email(), role: "provider")
            let request: [String: Any] = ["categoryId": category, "location": ["lat": 38.72, "lng": -9.14], "address": "Rua 1", "description": "Leak",
                                          "budget": ["amount": "80.00", "currency": "EUR"]]
            func with(_ base: [String: Any], _ key: String, _ value: Any) -> [String: Any] { var copy = base; copy[key] = value; return copy }
            let register: [String: Any] = ["email": IdentityTests.email(), "password": "correct horse battery", "name": "Ana", "role": "client"]
            var profile = IdentityAccountTests.profile
            profile["categories"] = [String]()
            let cases: [(String, String, HTTPRequest.Method, String?, [String: Any])] = [
                ("RegisterRequest", "/v1/auth/register", .post, nil, with(register, "name", "")),
                ("RegisterRequest", "/v1/auth/register", .post, nil, with(register, "name", "   ")),
                ("RegisterRequest", "/v1/auth/register", .post, nil, with(register, "email", "not-an-address")),
                ("RegisterRequest", "/v1/auth/register", .post, nil, with(register, "password", "short")),
                ("ServiceRequestInput", "/v1/requests", .post, customer.accessToken, with(request, "budget", ["amount": "80.00", "currency": ""])),
                ("ServiceRequestInput", "/v1/requests", .post, customer.accessToken, with(request, "budget", ["amount": "0", "currency": "EUR"])),
                ("ServiceRequestInput", "/v1/requests", .post, customer.accessToken, with(request, "address", "")),
                ("CategoryInput", "/v1/categories", .post, admin, ["slug": TestServers.unique("c"), "name": ""]),
                ("CategoryInput", "/v1/categories", .post, admin, ["name": "No slug"]),
                ("ProfileChange", "/v1/users/me", .patch, customer.accessToken, [:]),
                ("ProviderProfileInput", "/v1/providers/me/profile", .put, provider.accessToken, profile),
            ]
            for (schema, path, method, token, body) in cases {
                let headers: HTTPFields = token.map { IdentityTests.bearer($0) } ?? [.contentType: "application/json"]
                try await client.execute(uri: path, method: method, headers: headers, body: IdentityTests.json(body)) { response in
                    #expect([.badRequest, .unprocessableContent].contains(response.status), "\(path) \(body): \(response.status)")
                }
                refused.append(["schema": schema, "body": body])
            }
            // A search without a usable category is refused: the parameter's schema says so.
            try await client.execute(uri: "/v1/providers?category=", method: .get) { #expect($0.status == .badRequest) }
            return try JSONSerialization.data(withJSONObject: refused)
        }
        let refused = try JSONSerialization.jsonObject(with: refusedJSON)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("refused-\(UUID()).json").path
        let document = try JSONSerialization.jsonObject(with: OpenAPIDocument(modules: MarketplaceApp.modules).json())
        try JSONSerialization.data(withJSONObject: ["document": document, "refused": refused]).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let script = """
        import json, sys
        from jsonschema import Draft202012Validator, FormatChecker
        data = json.load(open(sys.argv[1])); schemas = data["document"]["components"]["schemas"]
        bad = 0
        for case in data["refused"]:
            root = {"$ref": "#/components/schemas/" + case["schema"], "components": {"schemas": schemas}}
            if Draft202012Validator(root, format_checker=FormatChecker()).is_valid(case["body"]):
                print("the document accepts what the server refuses:", case["schema"], json.dumps(case["body"])); bad += 1
        search = data["document"]["paths"]["/v1/providers"]["get"]["parameters"]
        category = next(p for p in search if p["name"] == "category")["schema"]
        if Draft202012Validator(category).is_valid(""):
            print("the document accepts an empty category"); bad += 1
        sys.exit(1 if bad else 0)
        """
        #expect(try await ChildProcess.python("-c", script, path) == 0, "the document accepts bodies the server refuses (see output)")
        await DispatchTests.close(h)
    }

    @Test("after a key rotation, tokens of the retired key still verify and new ones use the new kid")
    func keyRotation() async throws {
        let h = try await IdentityTests.harness()
        let tokens: (String, String) = try await h.app.test(.router) { client in
            let before = try await IdentityTests.register(client, email: IdentityTests.email())
            try await h.service.tokens.rotate()
            let after = try await IdentityTests.register(client, email: IdentityTests.email())
            func kid(_ token: String) throws -> String {
                let header = try JSONSerialization.jsonObject(with: IdentityTests.base64URLDecode(String(token.split(separator: ".")[0]))) as! [String: Any]
                return header["kid"] as! String
            }
            #expect(try kid(before.accessToken) != kid(after.accessToken))
            for token in [before.accessToken, after.accessToken] {
                try await client.execute(uri: "/v1/users/me", method: .get, headers: IdentityTests.bearer(token)) { #expect($0.status == .ok) }
            }
            try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response throws in
                let jwks = try JSONDecoder().decode(JWKSDocument.self, from: Data(response.body.readableBytesView))
                #expect(Set(jwks.keys.map(\.kid)).isSuperset(of: [try kid(before.accessToken), try kid(after.accessToken)]))
            }
            return (before.accessToken, after.accessToken)
        }
        // A second instance (its own TokenService over the same database) verifies both too.
        let other = IdentityService(mongo: h.platform.mongo, redis: h.platform.redis)
        try await other.prepare()
        let verifier = IdentityTokenVerifier(service: other)
        #expect(try await verifier.verify(tokens.0).role == .client)
        #expect(try await verifier.verify(tokens.1).role == .client)
        await h.platform.close()
    }
}
