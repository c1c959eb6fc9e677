import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP
import MarketplacePlatform

/// Identity on the platform's seam: accounts, sessions and tokens over HTTP; provides the
/// `AccessTokenVerifier` the HTTP middleware and the realtime gateway use, and the
/// `SessionRevocationFeed` that ends live connections of revoked sessions, and the
/// `ContactDirectory` Notifications reaches users through.
///
/// Configuration (`identity.*`): `bcrypt.cost` (10), `access.token.lifetime` seconds (900),
/// `refresh.token.lifetime` seconds (30 days), `login.failure.limit` (5), `kek` (the base64
/// 32-byte key-encryption key of the signing keys; required in production mode) and
/// `kek.previous` (comma-separated, while rotating it), `session.cache.seconds` (0.5: how long a
/// session found standing, and a user view read from Redis, are believed without asking Redis
/// again; revocations and changes end them on every process before they are answered; 0 asks on
/// every request).
public struct IdentityModule: ServiceModule {
    public static let name = "identity"
    public static var openAPI: OpenAPIFragment { IdentityOpenAPI.fragment }

    public let service: IdentityService

    public init(context: ModuleContext) async throws {
        let configuration = try IdentityService.Configuration(section: context.configuration)
        if configuration.signingKeyVault == nil {
            guard context.platform.configuration.mode != .production else {
                throw ConfigurationError(key: "identity.kek", value: "", reason: "required in production mode: the signing keys are sealed with it")
            }
            context.logger.warning("identity.kek is not set: token-signing keys are stored unsealed (development only)")
        }
        self.init(service: IdentityService(mongo: context.mongo, redis: context.redis, configuration: configuration), ports: context.ports)
    }

    /// A module over a service built by the caller (tests choose lifetimes and limits).
    public init(service: IdentityService, ports: Ports) {
        self.service = service
        ports.provide((any AccessTokenVerifier).self, IdentityTokenVerifier(service: service), by: Self.name)
        ports.provide((any SessionRevocationFeed).self, service.sessions.revocations, by: Self.name)
        ports.provide((any ContactDirectory).self, IdentityContactDirectory(service: service), by: Self.name)
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
                  loginFailureLimit: try section.integer("login.failure.limit", default: defaults.loginFailureLimit, in: 1...1_000),
                  signingKeyVault: try Self.vault(section),
                  sessionCacheMaxAge: .seconds(try section.seconds("session.cache.seconds",
                                                                   default: defaults.sessionCacheMaxAge / .seconds(1), in: 0...1)))
    }

    static func vault(_ section: ConfigurationSection) throws -> SigningKeyVault? {
        guard let current = try section.secret("kek") else { return nil }
        let previous = (try section.secret("kek.previous") ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
        do {
            return try SigningKeyVault(current: current, previous: previous)
        } catch {
            throw ConfigurationError(key: "identity.kek", value: current, reason: "expected base64 of 32 random bytes (openssl rand -base64 32), also in identity.kek.previous")
        }
    }
}
