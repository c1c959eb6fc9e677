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
        let h = try await DispatchTests.harness()
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
