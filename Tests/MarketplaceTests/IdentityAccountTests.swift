import Foundation
import Hummingbird
import HummingbirdTesting
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceIdentity
import MarketplaceMessaging
import MarketplaceMongo
import Testing

@Suite("Identity: password reset, deletion, providers, administration, permissions", .timeLimit(.minutes(3)))
struct IdentityAccountTests {
    typealias T = IdentityTests

    static func login(_ client: some TestClientProtocol, _ email: String, _ password: String = "correct horse battery") async throws -> HTTPResponse.Status {
        try await client.execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                                 body: T.json(["email": email, "password": password])) { $0.status }
    }

    nonisolated(unsafe) static let profile: [String: Any] = [
        "categories": ["plumbing", "heating"], "bio": "20 years of pipes", "serviceRadiusKm": 15,
        "pricing": ["currency": "EUR", "hourlyRate": "42.50"],
        "workingHours": [["day": 0, "start": "09:00", "end": "17:00"], ["day": 5, "start": "10:00", "end": "14:00"]],
    ]

    static func admin(_ h: IdentityTests.Harness, _ client: some TestClientProtocol) async throws -> String {
        let email = T.email()
        _ = try await h.service.createAdmin(email: email, password: "admin password 1!", name: "Root")
        return try await client.execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                                        body: T.json(["email": email, "password": "admin password 1!"])) { response in
            #expect(response.status == .ok)
            return try JSONDecoder.iso.decode(IdentityTests.Tokens.self, from: response.body).accessToken
        }
    }

    @Test("password reset: always 202; the emailed token sets a new password once and ends every session")
    func passwordReset() async throws {
        let h = try await T.harness()
        try await h.app.test(.router) { client in
            let email = T.email()
            let session = try await T.register(client, email: email)
            for address in [email, T.email(), "not an email"] {
                try await client.execute(uri: "/v1/auth/password-reset/request", method: .post, headers: [.contentType: "application/json"],
                                         body: T.json(["email": address])) { #expect($0.status == .accepted) }
            }
            // Only the real account produced an event; it carries the token for the notification worker.
            let events = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
                .find(["type": "marketplace.auth.password-reset-requested.v1"])
            #expect(events.count == 1)
            #expect(events.first?.topic == "marketplace.auth.v1")
            let payload = try #require(try events.first.map { try $0.envelopeData(IdentityEvents.PasswordResetRequested.self) })
            #expect(payload.email == email)
            #expect(payload.expiresAt.timeIntervalSinceNow > 29 * 60)

            try await client.execute(uri: "/v1/auth/password-reset/confirm", method: .post, headers: [.contentType: "application/json"],
                                     body: T.json(["token": payload.token, "password": "short"])) { response throws in
                #expect(response.status == .unprocessableContent)
                #expect(try T.problem(response).code == "weak_password")
            }
            try await client.execute(uri: "/v1/auth/password-reset/confirm", method: .post, headers: [.contentType: "application/json"],
                                     body: T.json(["token": payload.token, "password": "a brand new secret"])) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/auth/password-reset/confirm", method: .post, headers: [.contentType: "application/json"],
                                     body: T.json(["token": payload.token, "password": "another new secret"])) { response throws in
                #expect(response.status == .badRequest)
                #expect(try T.problem(response).code == "invalid_reset_token")
            }
            try await client.execute(uri: "/v1/users/me", method: .get, headers: T.bearer(session.accessToken)) { #expect($0.status == .unauthorized) }
            #expect(try await Self.login(client, email) == .unauthorized)
            #expect(try await Self.login(client, email, "a brand new secret") == .ok)
        }
        await h.platform.close()
    }

    @Test("deleting my account anonymises it, ends its sessions and publishes user.deleted")
    func deleteAccount() async throws {
        let h = try await T.harness()
        try await h.app.test(.router) { client in
            let email = T.email()
            let session = try await T.register(client, email: email, role: "provider")
            try await client.execute(uri: "/v1/providers/me/profile", method: .put, headers: T.bearer(session.accessToken),
                                     body: T.json(Self.profile)) { #expect($0.status == .ok) }
            try await client.execute(uri: "/v1/users/me", method: .delete, headers: T.bearer(session.accessToken)) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/users/me", method: .get, headers: T.bearer(session.accessToken)) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/providers/\(session.user.id)", method: .get) { #expect($0.status == .notFound) }
            #expect(try await Self.login(client, email) == .unauthorized)
            // The address is free again.
            _ = try await T.register(client, email: email)
        }
        let stored = try #require(try await h.platform.mongo.collection("users", as: BSONDocument.self).findOne(["status": "deleted"]))
        #expect(stored["name"] == "Deleted user" && stored["passwordHash"] == "" && stored["phone"] == nil)
        guard case .string(let storedEmail) = stored["email"] else { Issue.record("no email"); return }
        #expect(storedEmail.hasSuffix("@deleted.invalid"))
        #expect(try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self).count(["type": "marketplace.user.deleted.v1"]) == 1)
        await h.platform.close()
    }

    @Test("provider profile: providers set it, anyone reads the public view, money stays decimal")
    func providerProfile() async throws {
        let h = try await T.harness()
        try await h.app.test(.router) { client in
            let provider = try await T.register(client, email: T.email(), role: "provider")
            try await client.execute(uri: "/v1/providers/me/profile", method: .put, headers: T.bearer(provider.accessToken),
                                     body: T.json(Self.profile)) { response throws in
                #expect(response.status == .ok)
                let view = try JSONDecoder.iso.decode(PublicProviderView.self, from: response.body)
                #expect(view.categories == ["heating", "plumbing"])
                #expect(view.pricing.hourlyRate.description == "42.50")
            }
            try await client.execute(uri: "/v1/providers/\(provider.user.id)", method: .get) { response throws in
                #expect(response.status == .ok)
                let body = String(buffer: response.body)
                #expect(body.contains(#""hourlyRate":"42.50""#))
                #expect(!body.contains("email") && !body.contains("phone"), "the public view has no private data")
            }
            var bad = Self.profile
            bad["serviceRadiusKm"] = 0
            try await client.execute(uri: "/v1/providers/me/profile", method: .put, headers: T.bearer(provider.accessToken), body: T.json(bad)) { response throws in
                #expect(response.status == .unprocessableContent)
                #expect(try T.problem(response).detail?.contains("serviceRadiusKm") == true)
            }
            bad = Self.profile
            bad["pricing"] = ["currency": "EUR", "hourlyRate": "lots"]
            try await client.execute(uri: "/v1/providers/me/profile", method: .put, headers: T.bearer(provider.accessToken), body: T.json(bad)) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v1/providers/nobody", method: .get) { #expect($0.status == .notFound) }
        }
        let stored = try #require(try await h.platform.mongo.collection("provider_profiles", as: BSONDocument.self).findOne([:]))
        if case .document(let pricing) = stored["pricing"] { #expect(pricing["hourlyRate"] == .decimal128(Decimal128("42.50")!)) } else { Issue.record("no pricing") }
        await h.platform.close()
    }

    @Test("admin lists users with filters, text search, sorting and totals; bad parameters are named")
    func adminList() async throws {
        let h = try await T.harness()
        try await h.app.test(.router) { client in
            let token = try await Self.admin(h, client)
            let marker = TestServers.unique("zeta")
            for index in 0..<5 {
                _ = try await client.execute(uri: "/v1/auth/register", method: .post, headers: [.contentType: "application/json"],
                                             body: T.json(["email": "\(marker)-\(index)@example.com", "password": "correct horse battery",
                                                           "name": "Person \(index)", "role": index % 2 == 0 ? "provider" : "client"])) { $0.status }
            }
            try await client.execute(uri: "/v1/admin/users?q=\(marker.uppercased())&role=provider&sort=email&limit=2&page=1", method: .get,
                                     headers: T.bearer(token)) { response throws in
                #expect(response.status == .ok)
                let page = try JSONDecoder.iso.decode(IdentityService.UserPage.self, from: response.body)
                #expect(page.total == 3)
                #expect(page.items.map(\.email) == ["\(marker)-0@example.com", "\(marker)-2@example.com"])
            }
            try await client.execute(uri: "/v1/admin/users?q=\(marker)&role=provider&sort=-email&limit=2&page=2", method: .get,
                                     headers: T.bearer(token)) { response throws in
                let page = try JSONDecoder.iso.decode(IdentityService.UserPage.self, from: response.body)
                #expect(page.items.map(\.email) == ["\(marker)-0@example.com"])
            }
            for (query, parameter) in [("role=superuser", "role"), ("limit=1000", "limit"), ("sort=password", "sort"), ("page=0", "page"), ("status=x", "status")] {
                try await client.execute(uri: "/v1/admin/users?\(query)", method: .get, headers: T.bearer(token)) { response throws in
                    #expect(response.status == .badRequest)
                    let problem = try T.problem(response)
                    #expect(problem.code == "invalid_parameter" && problem.detail?.hasPrefix(parameter) == true)
                }
            }
        }
        await h.platform.close()
    }

    @Test("suspension ends a user's live tokens at once and blocks login; reinstating restores login")
    func suspension() async throws {
        let h = try await T.harness()
        try await h.app.test(.router) { client in
            let token = try await Self.admin(h, client)
            let email = T.email()
            let user = try await T.register(client, email: email)
            try await client.execute(uri: "/v1/admin/users/\(user.user.id)/suspend", method: .post, headers: T.bearer(token)) { response throws in
                #expect(response.status == .ok)
                #expect(try JSONDecoder.iso.decode(UserView.self, from: response.body).status == .suspended)
            }
            try await client.execute(uri: "/v1/users/me", method: .get, headers: T.bearer(user.accessToken)) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/auth/refresh", method: .post, headers: [.contentType: "application/json"],
                                     body: T.json(["refreshToken": user.refreshToken])) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                                     body: T.json(["email": email, "password": "correct horse battery"])) { response throws in
                #expect(response.status == .forbidden)
                #expect(try T.problem(response).code == "account_suspended")
            }
            try await client.execute(uri: "/v1/admin/users/\(user.user.id)/suspend", method: .post, headers: T.bearer(token)) { response throws in
                #expect(response.status == .conflict)
            }
            try await client.execute(uri: "/v1/admin/users/\(user.user.id)/reinstate", method: .post, headers: T.bearer(token)) { #expect($0.status == .ok) }
            #expect(try await Self.login(client, email) == .ok)
            try await client.execute(uri: "/v1/admin/users/nobody/suspend", method: .post, headers: T.bearer(token)) { #expect($0.status == .notFound) }
        }
        let types = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self).find(["aggregateId": ["$exists": true]]).map(\.type)
        #expect(types.contains("marketplace.user.suspended.v1") && types.contains("marketplace.user.reinstated.v1"))
        await h.platform.close()
    }

    /// docs/identity-permissions.md, cell by cell.
    @Test("the permission matrix holds for every endpoint and role")
    func permissionMatrix() async throws {
        let h = try await T.harness()
        try await h.app.test(.router) { client in
            let adminToken = try await Self.admin(h, client)
            let clientUser = try await T.register(client, email: T.email(), role: "client")
            let provider = try await T.register(client, email: T.email(), role: "provider")
            try await client.execute(uri: "/v1/providers/me/profile", method: .put, headers: T.bearer(provider.accessToken), body: T.json(Self.profile)) { #expect($0.status == .ok) }
            let target = try await T.register(client, email: T.email())
            let tokens: [String: String?] = ["anonymous": nil, "client": clientUser.accessToken, "provider": provider.accessToken, "admin": adminToken]

            struct Cell { var method: HTTPRequest.Method; var uri: String; var body: [String: Any]?; var expected: [String: HTTPResponse.Status] }
            let all = { (status: HTTPResponse.Status) in ["anonymous": status, "client": status, "provider": status, "admin": status] }
            let cells: [Cell] = [
                Cell(method: .get, uri: "/v1/users/me", expected: ["anonymous": .unauthorized, "client": .ok, "provider": .ok, "admin": .ok]),
                Cell(method: .patch, uri: "/v1/users/me", body: ["name": "Renamed"], expected: ["anonymous": .unauthorized, "client": .ok, "provider": .ok, "admin": .ok]),
                Cell(method: .put, uri: "/v1/providers/me/profile", body: Self.profile, expected: ["anonymous": .unauthorized, "client": .forbidden, "provider": .ok, "admin": .forbidden]),
                Cell(method: .get, uri: "/v1/providers/\(provider.user.id)", expected: all(.ok)),
                Cell(method: .get, uri: "/.well-known/jwks.json", expected: all(.ok)),
                Cell(method: .get, uri: "/v1/admin/users", expected: ["anonymous": .unauthorized, "client": .forbidden, "provider": .forbidden, "admin": .ok]),
                Cell(method: .post, uri: "/v1/admin/users/\(target.user.id)/suspend", expected: ["anonymous": .unauthorized, "client": .forbidden, "provider": .forbidden, "admin": .ok]),
                Cell(method: .post, uri: "/v1/admin/users/\(target.user.id)/reinstate", expected: ["anonymous": .unauthorized, "client": .forbidden, "provider": .forbidden, "admin": .ok]),
            ]
            for cell in cells {
                for role in ["anonymous", "client", "provider", "admin"] {
                    var headers: HTTPFields = [.contentType: "application/json"]
                    if let token = tokens[role] ?? nil { headers[.authorization] = "Bearer \(token)" }
                    let status = try await client.execute(uri: cell.uri, method: cell.method, headers: headers,
                                                          body: cell.body.map { T.json($0) }) { $0.status }
                    #expect(status == cell.expected[role], "\(cell.method) \(cell.uri) as \(role)")
                }
            }
            // Logout and deletion end the caller's own session/account: one user per role.
            for role in ["client", "provider"] {
                let user = try await T.register(client, email: T.email(), role: role)
                try await client.execute(uri: "/v1/auth/logout", method: .post, headers: T.bearer(user.accessToken)) { #expect($0.status == .noContent) }
                let other = try await T.register(client, email: T.email(), role: role)
                try await client.execute(uri: "/v1/users/me", method: .delete, headers: T.bearer(other.accessToken)) { #expect($0.status == .noContent) }
            }
            try await client.execute(uri: "/v1/auth/logout", method: .post) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/v1/users/me", method: .delete) { #expect($0.status == .unauthorized) }
        }
        await h.platform.close()
    }
}

extension OutboxEntry {
    func envelopeData<T: Decodable>(_ type: T.Type) throws -> T {
        try EventJSON.decoder.decode(type, from: data)
    }
}
