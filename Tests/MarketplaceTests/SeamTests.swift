import Foundation
import Logging
import MarketplaceApp
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceIdentity
import MarketplacePlatform
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
        #expect(composition.modules.map { type(of: $0).name } == ["identity", "dispatch", "realtime"])
        #expect(composition.ports.optional((any AccessTokenVerifier).self) is IdentityTokenVerifier)
        #expect(composition.ports.optional((any JobAccessDirectory).self) is MongoJobAccessDirectory)
        let names = MarketplaceApp.workers.map(\.name)
        #expect(names == ["outbox-relay", "provider-locations", "dispatch", "provider-ratings", "realtime-bridge", "realtime-gateway"])
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
