import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP
import MarketplacePlatform

/// Identity on the platform's seam: accounts, sessions and tokens over HTTP; provides the
/// `AccessTokenVerifier` the HTTP middleware and the realtime gateway use, and the
/// `SessionRevocationFeed` that ends live connections of revoked sessions.
///
/// Configuration (`identity.*`): `bcrypt.cost` (10), `access.token.lifetime` seconds (900),
/// `refresh.token.lifetime` seconds (30 days), `login.failure.limit` (5).
public struct IdentityModule: ServiceModule {
    public static let name = "identity"
    public static var openAPI: OpenAPIFragment { IdentityOpenAPI.fragment }

    public let service: IdentityService

    public init(context: ModuleContext) async throws {
        self.init(service: IdentityService(mongo: context.mongo, redis: context.redis,
                                           configuration: try IdentityService.Configuration(section: context.configuration)),
                  ports: context.ports)
    }

    /// A module over a service built by the caller (tests choose lifetimes and limits).
    public init(service: IdentityService, ports: Ports) {
        self.service = service
        ports.provide((any AccessTokenVerifier).self, IdentityTokenVerifier(service: service), by: Self.name)
        ports.provide((any SessionRevocationFeed).self, service.sessions.revocations, by: Self.name)
    }

    public func prepare() async throws { try await service.prepare() }

    public func addRoutes(to router: Router<AppRequestContext>) {
        IdentityRoutes.register(on: router, service: service)
    }
}

extension IdentityService.Configuration {
    /// Reads the `identity.*` section; defaults where a key is unset.
    public init(section: ConfigurationSection) throws {
        let defaults = Self()
        self.init(bcryptCost: UInt8(try section.integer("bcrypt.cost", default: Int(defaults.bcryptCost), in: 4...31)),
                  accessTokenLifetime: try section.seconds("access.token.lifetime", default: defaults.accessTokenLifetime, in: 60...86_400),
                  refreshTokenLifetime: .seconds(try section.seconds("refresh.token.lifetime",
                                                                     default: Double(defaults.refreshTokenLifetime.components.seconds),
                                                                     in: 3_600...31_536_000)),
                  loginFailureLimit: try section.integer("login.failure.limit", default: defaults.loginFailureLimit, in: 1...1_000))
    }
}
