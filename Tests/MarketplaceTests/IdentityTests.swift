import Foundation
import Hummingbird
import HummingbirdTesting
import JWTKit
import Logging
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceIdentity
import MarketplaceMessaging
import MarketplaceMongo
import MarketplacePlatform
import Testing

/// The Identity endpoints over HTTP, against MongoDB and Redis.
@Suite("Identity: auth and profile", .timeLimit(.minutes(3)))
struct IdentityTests {
    struct Harness {
        let platform: Platform
        let service: IdentityService
        let app: Application<RouterResponder<AppRequestContext>>
    }

    static func harness(loginFailureLimit: Int = 5, accessTokenLifetime: TimeInterval = 900) async throws -> Harness {
        let configuration = TestServers.platformConfiguration(database: "identity")
        let platform = try Platform(configuration: configuration, logger: Logger(label: "test"))
        let service = IdentityService(mongo: platform.mongo, redis: platform.redis,
                                      configuration: .init(accessTokenLifetime: accessTokenLifetime, loginFailureLimit: loginFailureLimit))
        let ports = Ports()
        let composition = Composition(platform: platform, built: [IdentityModule(service: service, ports: ports)], ports: ports)
        try await composition.prepare()
        // Every router test comes from the same (unknown) address: start its counter afresh.
        try await platform.redis.delete("login-failures:address:unknown")
        return Harness(platform: platform, service: service, app: Application(router: try composition.makeRouter(api: true)))
    }

    static func email() -> String { "\(TestServers.unique("user"))@example.com" }

    struct Tokens: Decodable { var accessToken: String; var refreshToken: String; var expiresIn: Int; var user: UserView; var deviceToken: String? }
    struct ProblemBody: Decodable { var code: String; var status: Int; var detail: String? }

    static func json(_ object: [String: Any]) -> ByteBuffer {
        ByteBuffer(bytes: try! JSONSerialization.data(withJSONObject: object))
    }

    static func bearer(_ token: String) -> HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    static func register(_ client: some TestClientProtocol, email: String, password: String = "correct horse battery", role: String = "client") async throws -> Tokens {
        try await client.execute(uri: "/v1/auth/register", method: .post, headers: [.contentType: "application/json"],
                                 body: json(["email": email, "password": password, "name": "Ana Lima", "role": role])) { response throws in
            #expect(response.status == .created, "\(String(buffer: response.body))")
            return try JSONDecoder.iso.decode(Tokens.self, from: response.body)
        }
    }

    static func problem(_ response: TestResponse) throws -> ProblemBody {
        #expect(response.headers[.contentType] == "application/problem+json")
        return try JSONDecoder().decode(ProblemBody.self, from: response.body)
    }

    @Test("register, read and change my profile; the event goes through the outbox")
    func registerAndProfile() async throws {
        let h = try await Self.harness()
        try await h.app.test(.router) { client in
            let email = Self.email()
            let tokens = try await Self.register(client, email: "  \(email.uppercased()) ")
            #expect(tokens.user.email == email, "emails are normalised")
            #expect(tokens.user.role == .client)
            #expect(tokens.expiresIn == 900)

            try await client.execute(uri: "/v1/users/me", method: .get, headers: Self.bearer(tokens.accessToken)) { response throws in
                #expect(response.status == .ok)
                #expect(try JSONDecoder.iso.decode(UserView.self, from: response.body) == tokens.user)
                #expect(!String(buffer: response.body).contains("passwordHash"))
            }
            try await client.execute(uri: "/v1/users/me", method: .patch, headers: Self.bearer(tokens.accessToken),
                                     body: Self.json(["name": "Ana B. Lima", "phone": "+351 912 345 678"])) { response throws in
                #expect(response.status == .ok)
                let user = try JSONDecoder.iso.decode(UserView.self, from: response.body)
                #expect(user.name == "Ana B. Lima" && user.phone == "+351 912 345 678")
            }
            // The read after the write sees the change (the cached view is written through).
            try await client.execute(uri: "/v1/users/me", method: .get, headers: Self.bearer(tokens.accessToken)) { response throws in
                #expect(try JSONDecoder.iso.decode(UserView.self, from: response.body).name == "Ana B. Lima")
            }
            try await client.execute(uri: "/v1/users/me", method: .patch, headers: Self.bearer(tokens.accessToken),
                                     body: Self.json(["phone": "call me"])) { response throws in
                #expect(response.status == .unprocessableContent)
                #expect(try Self.problem(response).code == "validation_failed")
            }
        }
        let outbox = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self).find([:], options: FindOptions(sort: ["_id": 1]))
        #expect(outbox.map(\.type) == ["marketplace.user.registered.v1", "marketplace.user.profile-updated.v1"])
        #expect(outbox.allSatisfy { $0.topic == "marketplace.users.v1" })
        await h.platform.close()
    }

    @Test("registration refuses bad input with stable codes")
    func registrationRefusals() async throws {
        let h = try await Self.harness()
        try await h.app.test(.router) { client in
            let cases: [([String: Any], HTTPResponse.Status, String)] = [
                (["email": Self.email(), "password": "short", "name": "A", "role": "client"], .unprocessableContent, "weak_password"),
                (["email": Self.email(), "password": "1234567890", "name": "A", "role": "client"], .unprocessableContent, "weak_password"),
                (["email": "not-an-email", "password": "correct horse battery", "name": "A", "role": "client"], .unprocessableContent, "validation_failed"),
                (["email": Self.email(), "password": "correct horse battery", "name": "A", "role": "admin"], .unprocessableContent, "validation_failed"),
                (["email": Self.email(), "password": "correct horse battery", "role": "client"], .badRequest, "missing_field"),
                (["email": Self.email(), "password": 12345678901, "name": "A", "role": "client"], .badRequest, "invalid_field"),
            ]
            for (body, status, code) in cases {
                try await client.execute(uri: "/v1/auth/register", method: .post, headers: [.contentType: "application/json"], body: Self.json(body)) { response throws in
                    #expect(response.status == status, "\(body)")
                    #expect(try Self.problem(response).code == code, "\(body)")
                }
            }
            try await client.execute(uri: "/v1/auth/register", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: "{not json")) { response throws in
                #expect(response.status == .badRequest)
                #expect(try Self.problem(response).code == "malformed_json")
            }
            try await client.execute(uri: "/v1/auth/register", method: .post, headers: [.contentType: "application/json"],
                                     body: ByteBuffer(string: "{\"email\":\"" + String(repeating: "a", count: 70_000) + "\"}")) { response throws in
                #expect(response.status == .contentTooLarge)
                #expect(try Self.problem(response).code == "body_too_large")
            }
        }
        await h.platform.close()
    }

    @Test("concurrent registrations with one email: exactly one 201, the rest 409")
    func concurrentRegistrations() async throws {
        let h = try await Self.harness()
        let email = Self.email()
        try await h.app.test(.router) { client in
            let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        let variant = index % 2 == 0 ? email : email.uppercased()
                        return try await client.execute(uri: "/v1/auth/register", method: .post, headers: [.contentType: "application/json"],
                                                        body: Self.json(["email": variant, "password": "correct horse battery", "name": "N", "role": "provider"])) { $0.status }
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == .created }.count == 1)
            #expect(statuses.filter { $0 == .conflict }.count == 7)
        }
        await h.platform.close()
    }

    @Test("one address cannot lock others out: after 100 failures from it, a known device still logs in; the attacker stays throttled")
    func knownDevicesAreNotThrottledByTheirAddress() async throws {
        let h = try await Self.harness()
        let email = Self.email()
        // Over HTTP: registration and login hand out a device token; a known device keeps its own.
        let device: String = try await h.app.test(.router) { client in
            let registered = try await Self.register(client, email: email)
            return try await client.execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                                            body: Self.json(["email": email, "password": "correct horse battery",
                                                             "deviceToken": try #require(registered.deviceToken)])) { response throws in
                #expect(response.status == .ok)
                let tokens = try JSONDecoder.iso.decode(Tokens.self, from: response.body)
                #expect(tokens.deviceToken == registered.deviceToken, "a known device keeps its token")
                return try #require(tokens.deviceToken)
            }
        }
        // The use case, from an address of its own (router tests share theirs): credential
        // stuffing, 100 failures for other accounts from one carrier-NAT address.
        let address = "198.51.100.\(Int.random(in: 1...254))-\(UUID().uuidString.prefix(6))"
        func login(_ email: String, _ password: String, device: String? = nil) async -> String {
            do {
                _ = try await h.service.login(email: email, password: password, clientAddress: address, deviceToken: device)
                return "ok"
            } catch let refusal as DomainError { return refusal.code } catch { return "\(error)" }
        }
        var refused = 0
        for _ in 0..<100 where await login(Self.email(), "guessed password 1") == "too_many_attempts" { refused += 1 }
        #expect(refused >= 80, "the address limit (20) throttles the attacker: \(refused) of 100 refused")
        #expect(await login(Self.email(), "guessed password 1") == "too_many_attempts")
        // A new device of the victim, behind that address, waits like everyone unknown...
        #expect(await login(email, "correct horse battery") == "too_many_attempts")
        // ...but the known device logs in with the right password.
        #expect(await login(email, "correct horse battery", device: device) == "ok")
        // Another account's device token is no key: it counts as an unknown device.
        #expect(await login(Self.email(), "guessed password 1", device: device) == "too_many_attempts")
        // A known device's own failures lock only that device.
        for _ in 0..<5 { #expect(await login(email, "wrong password!!", device: device) == "invalid_credentials") }
        #expect(await login(email, "correct horse battery", device: device) == "too_many_attempts")
        await h.platform.close()
    }

    @Test("login: wrong credentials look alike; five failures throttle the account with Retry-After")
    func loginAndThrottle() async throws {
        let h = try await Self.harness()
        try await h.app.test(.router) { client in
            let email = Self.email()
            _ = try await Self.register(client, email: email)
            for attempt in [["email": email, "password": "wrong password!!"], ["email": Self.email(), "password": "correct horse battery"]] {
                try await client.execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"], body: Self.json(attempt)) { response throws in
                    #expect(response.status == .unauthorized)
                    let problem = try Self.problem(response)
                    #expect(problem.code == "invalid_credentials" && problem.detail == nil)
                }
            }
            try await client.execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                                     body: Self.json(["email": email.uppercased(), "password": "correct horse battery"])) { response throws in
                #expect(response.status == .ok, "a success resets the account's counter")
            }
            for _ in 0..<5 {
                try await client.execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                                         body: Self.json(["email": email, "password": "wrong password!!"])) { #expect($0.status == .unauthorized) }
            }
            try await client.execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                                     body: Self.json(["email": email, "password": "correct horse battery"])) { response throws in
                #expect(response.status == .tooManyRequests)
                #expect(try Self.problem(response).code == "too_many_attempts")
                let retryAfter = try #require(response.headers[.retryAfter].flatMap { Int($0) })
                #expect(retryAfter > 800 && retryAfter <= 900)
            }
        }
        await h.platform.close()
    }

    @Test("refresh rotates; a reused refresh token revokes the whole session; logout ends it at once")
    func refreshRotationAndLogout() async throws {
        let h = try await Self.harness()
        try await h.app.test(.router) { client in
            let first = try await Self.register(client, email: Self.email())
            let second: Tokens = try await client.execute(uri: "/v1/auth/refresh", method: .post, headers: [.contentType: "application/json"],
                                                          body: Self.json(["refreshToken": first.refreshToken])) { response throws in
                #expect(response.status == .ok)
                return try JSONDecoder.iso.decode(Tokens.self, from: response.body)
            }
            #expect(second.refreshToken != first.refreshToken)
            try await client.execute(uri: "/v1/users/me", method: .get, headers: Self.bearer(second.accessToken)) { #expect($0.status == .ok) }

            // The old refresh token again: theft assumed, the session dies.
            try await client.execute(uri: "/v1/auth/refresh", method: .post, headers: [.contentType: "application/json"],
                                     body: Self.json(["refreshToken": first.refreshToken])) { response throws in
                #expect(response.status == .unauthorized)
                #expect(try Self.problem(response).code == "refresh_token_reused")
            }
            try await client.execute(uri: "/v1/auth/refresh", method: .post, headers: [.contentType: "application/json"],
                                     body: Self.json(["refreshToken": second.refreshToken])) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/users/me", method: .get, headers: Self.bearer(second.accessToken)) { response throws in
                #expect(response.status == .unauthorized)
                #expect(try Self.problem(response).code == "invalid_token")
            }

            // A fresh login, then logout: its access token stops working immediately.
            let third = try await Self.register(client, email: Self.email())
            try await client.execute(uri: "/v1/auth/logout", method: .post, headers: Self.bearer(third.accessToken)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/users/me", method: .get, headers: Self.bearer(third.accessToken)) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/auth/refresh", method: .post, headers: [.contentType: "application/json"],
                                     body: Self.json(["refreshToken": third.refreshToken])) { response throws in
                #expect(response.status == .unauthorized)
                #expect(try Self.problem(response).code == "invalid_refresh_token")
            }
        }
        await h.platform.close()
    }

    @Test("tampered, alg:none, foreign-key, expired and wrong-audience tokens are refused with 401")
    func tokenTampering() async throws {
        let h = try await Self.harness()
        try await h.app.test(.router) { client in
            let tokens = try await Self.register(client, email: Self.email())
            let parts = tokens.accessToken.split(separator: ".").map(String.init)
            #expect(parts.count == 3)
            let header = try JSONSerialization.jsonObject(with: Self.base64URLDecode(parts[0])) as! [String: Any]
            #expect(header["alg"] as? String == "ES256")
            let kid = try #require(header["kid"] as? String)

            // JWKS publishes that kid.
            try await client.execute(uri: "/.well-known/jwks.json", method: .get) { response throws in
                let jwks = try JSONDecoder().decode(JWKSDocument.self, from: response.body)
                #expect(jwks.keys.contains { $0.kid == kid && $0.alg == "ES256" && $0.crv == "P-256" })
            }

            var claims = try JSONSerialization.jsonObject(with: Self.base64URLDecode(parts[1])) as! [String: Any]
            claims["role"] = "admin"
            let tampered = [parts[0], Self.base64URL(try JSONSerialization.data(withJSONObject: claims)), parts[2]].joined(separator: ".")
            let none = [Self.base64URL(#"{"alg":"none","typ":"JWT","kid":"\#(kid)"}"#.data(using: .utf8)!), parts[1], ""].joined(separator: ".")

            struct Claims: JWTPayload {
                var sub: SubjectClaim; var role: String; var sid: String; var iss: IssuerClaim; var aud: AudienceClaim
                var iat: IssuedAtClaim; var exp: ExpirationClaim
                func verify(using algorithm: some JWTAlgorithm) async throws {}
            }
            let sid = claims["sid"] as! String
            let sub = claims["sub"] as! String
            let foreignKeys = await JWTKeyCollection().add(ecdsa: ES256PrivateKey(), kid: JWKIdentifier(string: kid))
            let foreign = try await foreignKeys.sign(Claims(sub: .init(value: sub), role: "client", sid: sid, iss: "marketplace-identity",
                                                             aud: .init(value: ["marketplace"]), iat: .init(value: Date()), exp: .init(value: Date().addingTimeInterval(600))))
            let unknownKid = try await JWTKeyCollection().add(ecdsa: ES256PrivateKey(), kid: "someone-else").sign(
                Claims(sub: .init(value: sub), role: "client", sid: sid, iss: "marketplace-identity", aud: .init(value: ["marketplace"]),
                       iat: .init(value: Date()), exp: .init(value: Date().addingTimeInterval(600))))

            // Our own key (read from the test database), but the wrong audience, issuer or expiry.
            let keyDocument = try #require(try await h.platform.mongo.collection("signing_keys", as: BSONDocument.self).findOne(["_id": .string(kid)]))
            guard case .string(let pem) = keyDocument["privateKeyPEM"] else { Issue.record("no key"); return }
            let ownKeys = await JWTKeyCollection().add(ecdsa: try ES256PrivateKey(pem: pem), kid: JWKIdentifier(string: kid))
            func own(aud: String = "marketplace", iss: String = "marketplace-identity", expiresIn: TimeInterval = 600) async throws -> String {
                try await ownKeys.sign(Claims(sub: .init(value: sub), role: "client", sid: sid, iss: .init(value: iss), aud: .init(value: [aud]),
                                              iat: .init(value: Date()), exp: .init(value: Date().addingTimeInterval(expiresIn))))
            }
            let control = try await own()
            try await client.execute(uri: "/v1/users/me", method: .get, headers: Self.bearer(control)) { #expect($0.status == .ok, "a correctly signed token passes") }
            let wrongAudience = try await own(aud: "another-platform")
            let wrongIssuer = try await own(iss: "someone")
            let expired = try await own(expiresIn: -60)

            for (name, token) in [("tampered", tampered), ("alg none", none), ("foreign key", foreign), ("unknown kid", unknownKid), ("garbage", "abc.def"),
                                  ("wrong audience", wrongAudience), ("wrong issuer", wrongIssuer), ("expired", expired)] {
                try await client.execute(uri: "/v1/users/me", method: .get, headers: Self.bearer(token)) { response throws in
                    #expect(response.status == .unauthorized, "\(name)")
                    #expect(try Self.problem(response).code == "invalid_token", "\(name)")
                }
            }
            try await client.execute(uri: "/v1/users/me", method: .get, headers: [.authorization: "Basic abc"]) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/users/me", method: .get) { response throws in
                #expect(response.status == .unauthorized)
                #expect(try Self.problem(response).code == "unauthorized")
            }
        }
        await h.platform.close()

        // Expired: a service whose tokens live -1 s; wrong audience is covered by the claim check.
        let expired = try await Self.harness(accessTokenLifetime: -1)
        try await expired.app.test(.router) { client in
            let tokens = try await Self.register(client, email: Self.email())
            try await client.execute(uri: "/v1/users/me", method: .get, headers: Self.bearer(tokens.accessToken)) { response throws in
                #expect(response.status == .unauthorized)
                #expect(try Self.problem(response).detail?.contains("expired") == true)
            }
        }
        await expired.platform.close()
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    static func base64URLDecode(_ text: String) throws -> Data {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return try #require(Data(base64Encoded: base64))
    }
}

extension JSONDecoder {
    /// ISO 8601 dates, with or without fractional seconds (API responses and event payloads).
    static var iso: JSONDecoder { EventJSON.decoder }

    func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        try decode(type, from: Data(buffer.readableBytesView))
    }
}
