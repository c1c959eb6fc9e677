import Foundation
import Logging
import MarketplaceApp
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceIdentity
import MarketplacePlatform
import MarketplaceMongo
import MarketplacePayments
import MarketplaceRealtime
import Testing

/// The module seam itself: the composition, ports between modules, configuration sections.
@Suite("Service module seam", .timeLimit(.minutes(2)))
struct SeamTests {
    static func platform(_ environment: [String: String] = [:]) async throws -> Platform {
        var merged = ["KAFKA_BROKERS": TestServers.kafkaBrokers, "MONGO_URI": TestServers.mongoURI,
                      "MONGO_DATABASE": TestServers.unique("seam"), "REDIS_PORT": String(TestServers.redisPort)]
        merged.merge(environment) { _, new in new }
        return try Platform(configuration: try await PlatformConfiguration.load(environment: merged), logger: Logger(label: "test"))
    }

    @Test("the composition builds each module once, in list order, and knows every worker by name")
    func composition() async throws {
        let platform = try await Self.platform()
        let composition = try await Composition(platform: platform, modules: MarketplaceApp.modules)
        #expect(composition.modules.map { type(of: $0).name } == ["identity", "payments", "dispatch", "realtime", "chat", "notifications", "analytics"])
        #expect(composition.ports.optional((any PaymentHolds).self) is PaymentService)
        #expect(composition.ports.optional((any AccessTokenVerifier).self) is IdentityTokenVerifier)
        #expect(composition.ports.optional((any JobAccessDirectory).self) is MongoJobAccessDirectory)
        #expect(composition.ports.optional((any ContactDirectory).self) is IdentityContactDirectory)
        #expect(composition.ports.optional((any PresenceDirectory).self) is GatewayPresenceDirectory)
        let names = MarketplaceApp.workers.map(\.name)
        #expect(names == ["outbox-relay", "payments", "payments-webhooks", "provider-locations", "dispatch", "provider-ratings", "realtime-bridge", "realtime-gateway", "chat",
                         "notifications", "notifications-push", "notifications-email", "notifications-sms", "analytics"])
        #expect(try composition.workerServices(names).count == names.count)
        #expect(throws: UnknownWorker.self) { try composition.workerServices(["no-such-worker"]) }
        await platform.close()
    }

    @Test("a module whose port no earlier module provides fails at start, naming the port and the module")
    func missingPort() async throws {
        let platform = try await Self.platform()
        do {
            _ = try await Composition(platform: platform, modules: [RealtimeModule.self])
            Issue.record("Realtime without Identity and Dispatch should not build")
        } catch let error as MissingPort {
            #expect(error.module == "realtime" && error.port.contains("AccessTokenVerifier"), "\(error)")
        }
        await platform.close()
    }

    @Test("each module reads its own configuration section, validated with the key named", arguments: [
        (["REALTIME_PORT": "eighty"], "realtime.port"),
        (["REALTIME_HISTORY_SIZE": "-1"], "realtime.history.size"),
        (["DISPATCH_WAVE_SIZE": "0"], "dispatch.wave.size"),
        (["DISPATCH_CANCELLATION_FEE": "five"], "dispatch.cancellation.fee"),
        (["DISPATCH_CANCELLATION_CURRENCY": "euro"], "dispatch.cancellation.currency"),
        (["IDENTITY_LOGIN_FAILURE_LIMIT": "0"], "identity.login.failure.limit"),
    ])
    func badSections(environment: [String: String], key: String) async throws {
        let platform = try await Self.platform(environment)
        do {
            _ = try await Composition(platform: platform, modules: MarketplaceApp.modules)
            Issue.record("\(environment) should be refused")
        } catch let error as ConfigurationError {
            #expect(error.key == key && error.description.contains(error.environmentVariable), "\(error)")
        }
        await platform.close()
    }

    @Test("module settings from the environment reach the modules")
    func sections() async throws {
        let platform = try await Self.platform(["REALTIME_PORT": "18555", "REALTIME_MAX_SUBSCRIPTIONS": "7", "DISPATCH_WAVE_SIZE": "5",
                                                "DISPATCH_CANCELLATION_FEE": "2.50", "DISPATCH_CANCELLATION_CURRENCY": "GBP"])
        let composition = try await Composition(platform: platform, modules: MarketplaceApp.modules)
        let realtime = try #require(composition.modules.compactMap { $0 as? RealtimeModule }.first)
        #expect(realtime.configuration.port == 18555 && realtime.configuration.maxSubscriptions == 7)
        let dispatch = try #require(composition.modules.compactMap { $0 as? DispatchModule }.first)
        #expect(dispatch.service.policy.waveSize == 5)
        #expect(dispatch.service.cancellation.fee(cancelledBy: .client, from: .enRoute, budget: nil) == Money(amount: Decimal(string: "2.5")!, currency: "GBP"))
        await platform.close()
    }
}

@Suite("Secrets", .timeLimit(.minutes(2)))
struct SecretTests {
    static func kek() -> String { Data((0..<32).map { _ in UInt8.random(in: 0...255) }).base64EncodedString() }

    @Test("configuration errors never echo a secret or a URI's credentials")
    func redaction() async throws {
        do {
            _ = try await PlatformConfiguration.load(environment: ["MONGO_URI": "postgres://admin:hunter2@db:5432"])
            Issue.record("a postgres URI should be refused")
        } catch let error as ConfigurationError {
            #expect(error.key == "mongo.uri" && !error.description.contains("hunter2"), "\(error)")
        }
        let platform = try await SeamTests.platform(["IDENTITY_KEK": "not-a-key-hunter2"])
        do {
            _ = try await Composition(platform: platform, modules: MarketplaceApp.modules)
            Issue.record("a malformed key-encryption key should be refused")
        } catch let error as ConfigurationError {
            #expect(error.key == "identity.kek" && !error.description.contains("hunter2"), "\(error)")
        }
        await platform.close()
    }

    @Test("production mode refuses to start without the signing keys' key-encryption key, the Stripe keys or the AWS credentials")
    func productionNeedsKEK() async throws {
        let platform = try await SeamTests.platform(["MARKETPLACE_MODE": "production"])
        do {
            _ = try await Composition(platform: platform, modules: MarketplaceApp.modules)
            Issue.record("production without IDENTITY_KEK should be refused")
        } catch let error as ConfigurationError {
            #expect(error.key == "identity.kek")
        }
        await platform.close()
        // Payments needs Stripe's secret key and the webhook endpoint's secret.
        for (environment, key) in [([String: String](), "payments.stripe.secret.key"), (["PAYMENTS_STRIPE_SECRET_KEY": "sk_live_hunter2"], "payments.webhook.secrets")] {
            let noStripe = try await SeamTests.platform(["MARKETPLACE_MODE": "production", "IDENTITY_KEK": Self.kek()].merging(environment) { $1 })
            do {
                _ = try await Composition(platform: noStripe, modules: MarketplaceApp.modules)
                Issue.record("production without \(key) should be refused")
            } catch let error as ConfigurationError {
                #expect(error.key == key && !error.description.contains("hunter2"), "\(error)")
            }
            await noStripe.close()
        }
        let stripe = ["PAYMENTS_STRIPE_SECRET_KEY": "sk_live_hunter2", "PAYMENTS_WEBHOOK_SECRETS": "whsec_new,whsec_old"]
        // Chat's object storage needs real credentials in production too.
        let noAWS = try await SeamTests.platform(["MARKETPLACE_MODE": "production", "IDENTITY_KEK": Self.kek()].merging(stripe) { $1 })
        do {
            _ = try await Composition(platform: noAWS, modules: MarketplaceApp.modules)
            Issue.record("production without AWS credentials should be refused")
        } catch let error as ConfigurationError {
            #expect(error.key == "aws.access.key.id" && error.description.contains("AWS_ACCESS_KEY_ID"), "\(error)")
        }
        await noAWS.close()
        let sealed = try await SeamTests.platform(["MARKETPLACE_MODE": "production", "IDENTITY_KEK": Self.kek(),
                                                   "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "example-secret-hunter2",
                                                   "AWS_ENDPOINT": TestServers.awsEndpoint.absoluteString].merging(stripe) { $1 })
        _ = try await Composition(platform: sealed, modules: MarketplaceApp.modules)
        await sealed.close()
    }

    @Test("signing keys are sealed at rest; plain keys get sealed; a KEK rotation re-seals them while tokens keep verifying; an unknown KEK fails at start")
    func signingKeysAtRest() async throws {
        let platform = try await SeamTests.platform()
        let (mongo, redis) = (platform.mongo, platform.redis)
        func stored() async throws -> [BSONDocument] { try await mongo.collection("signing_keys", as: BSONDocument.self).find([:]) }
        func service(_ vault: SigningKeyVault?) -> IdentityService {
            IdentityService(mongo: mongo, redis: redis, configuration: .init(signingKeyVault: vault))
        }
        // A development instance without a KEK stores its key in plain PEM...
        let development = service(nil)
        try await development.prepare()
        #expect(try await stored().allSatisfy { $0["privateKeyPEM"] != nil })
        let token = try await development.register(email: "\(TestServers.unique("kek"))@example.com", password: "correct horse battery",
                                                   name: "K", role: "client", traceparent: nil).accessToken
        // ...which the first instance with one seals in place.
        let first = Self.kek(), second = Self.kek()
        let sealing = service(try SigningKeyVault(current: first))
        try await sealing.prepare()
        let documents = try await stored()
        #expect(documents.allSatisfy { $0["privateKeyPEM"] == nil && $0["sealedKey"] != nil && $0["kekID"] == .string(SigningKeyVault.id(of: Data(base64Encoded: first)!)) })
        #expect(!documents.description.contains("PRIVATE KEY"), "no PEM left in the database")
        #expect(try await IdentityTokenVerifier(service: sealing).verify(token).role == .client)

        // Rotation: the new KEK current, the old one previous; keys are re-sealed, tokens verify.
        let rotated = service(try SigningKeyVault(current: second, previous: [first]))
        try await rotated.prepare()
        #expect(try await stored().allSatisfy { $0["kekID"] == .string(SigningKeyVault.id(of: Data(base64Encoded: second)!)) })
        #expect(try await IdentityTokenVerifier(service: rotated).verify(token).role == .client)

        // An instance given only the retired KEK cannot open them: it fails at start, saying why.
        do {
            try await service(try SigningKeyVault(current: first)).prepare()
            Issue.record("the retired KEK should not open keys re-sealed under its successor")
        } catch let error as SigningKeyVault.UnknownKEK {
            #expect(error.description.contains("identity.kek"))
        }
        await platform.close()
    }
}
