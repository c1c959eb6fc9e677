import Foundation
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP
import MarketplacePlatform

/// Dispatch on the platform's seam: the catalog, provider presence and search, requests, offers
/// in waves, jobs and reviews; provides the `JobAccessDirectory` other modules authorize by.
///
/// Configuration (`dispatch.*`): `wave.size` (3), `radius.first.km` (10), `radius.max.km` (40),
/// `offer.lifetime` seconds (20), `deadline` seconds (180), `cancellation.fee` (5.00, in the
/// budget's currency), `cancellation.currency` (EUR, without a budget), `hold.default` (50.00: the
/// card hold of a request without a budget whose category sets none; with payments).
/// Places holds through the `PaymentHolds` port when a module before it provides one.
public struct DispatchModule: ServiceModule {
    public static let name = "dispatch"
    public static var openAPI: OpenAPIFragment { DispatchOpenAPI.fragment }

    public let service: DispatchService
    public let index: ProviderPresenceIndex
    public let search: ProviderSearch

    public init(context: ModuleContext) async throws {
        let section = context.configuration
        self.init(service: DispatchService(mongo: context.mongo, publisher: context.events, directory: MongoProviderDirectory(mongo: context.mongo),
                                           holds: context.ports.optional((any PaymentHolds).self),
                                           policy: try DispatchPolicy(section: section), cancellation: try CancellationPolicy(section: section)),
                  index: ProviderPresenceIndex(redis: context.redis), ports: context.ports)
    }

    /// A module over a service built by the caller (tests choose policies).
    public init(service: DispatchService, index: ProviderPresenceIndex, ports: Ports) {
        self.service = service
        self.index = index
        search = ProviderSearch(mongo: service.mongo, index: index)
        ports.provide((any JobAccessDirectory).self, MongoJobAccessDirectory(mongo: service.mongo), by: Self.name)
    }

    public func prepare() async throws { try await service.prepare() }

    public func addRoutes(to router: Router<AppRequestContext>) {
        DispatchRoutes.register(on: router, service: service, search: search)
    }
}

extension DispatchPolicy {
    /// Reads the wave settings of the `dispatch.*` section.
    public init(section: ConfigurationSection) throws {
        let defaults = Self()
        let hold = try section.string("hold.default", default: Money.format(defaults.defaultHold, minorDigits: 2))
        guard let holdAmount = Money.parse(hold), holdAmount > 0 else {
            throw ConfigurationError(key: "dispatch.hold.default", value: hold, reason: "expected a positive decimal amount like 50.00")
        }
        self.init(waveSize: try section.integer("wave.size", default: defaults.waveSize, in: 1...50),
                  firstRadiusKm: try section.number("radius.first.km", default: defaults.firstRadiusKm, in: 0.1...200),
                  maxRadiusKm: try section.number("radius.max.km", default: defaults.maxRadiusKm, in: 0.1...500),
                  offerLifetime: try section.seconds("offer.lifetime", default: defaults.offerLifetime, in: 1...3_600),
                  deadline: try section.seconds("deadline", default: defaults.deadline, in: 1...86_400), defaultHold: holdAmount)
    }
}

extension CancellationPolicy {
    /// Reads the fee of the `dispatch.*` section.
    public init(section: ConfigurationSection) throws {
        let defaults = Self()
        let fee = try section.string("cancellation.fee", default: Money.format(defaults.flatFee))
        guard let amount = Money.parse(fee), amount >= 0 else {
            throw ConfigurationError(key: "dispatch.cancellation.fee", value: fee, reason: "expected a decimal amount like 5.00")
        }
        let currency = try section.string("cancellation.currency", default: defaults.defaultCurrency)
        guard currency.range(of: "^[A-Z]{3}$", options: .regularExpression) != nil else {
            throw ConfigurationError(key: "dispatch.cancellation.currency", value: currency, reason: "expected an ISO 4217 code like EUR")
        }
        self.init(flatFee: amount, defaultCurrency: currency)
    }
}
