import Foundation
import HummingbirdBcrypt
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo
import MarketplaceRedis
import NIOPosix
import Synchronization

/// The Identity use cases. HTTP-free: routes translate requests into these calls.
public final class IdentityService: Sendable {
    public struct Configuration: Sendable {
        public var bcryptCost: UInt8
        public var accessTokenLifetime: TimeInterval
        public var refreshTokenLifetime: Duration
        public var loginFailureLimit: Int
        /// Seals the signing keys at rest; nil stores them in plain PEM (development only).
        public var signingKeyVault: SigningKeyVault?
        /// How long a session found standing in Redis is taken as standing without asking again
        /// (revocations end it sooner, through the feed); zero asks Redis on every request.
        public var sessionCacheMaxAge: Duration

        public init(bcryptCost: UInt8 = 10, accessTokenLifetime: TimeInterval = 15 * 60,
                    refreshTokenLifetime: Duration = .seconds(30 * 86_400), loginFailureLimit: Int = 5,
                    signingKeyVault: SigningKeyVault? = nil, sessionCacheMaxAge: Duration = .milliseconds(500)) {
            self.bcryptCost = bcryptCost
            self.accessTokenLifetime = accessTokenLifetime
            self.refreshTokenLifetime = refreshTokenLifetime
            self.loginFailureLimit = loginFailureLimit
            self.signingKeyVault = signingKeyVault
            self.sessionCacheMaxAge = sessionCacheMaxAge
        }
    }

    public let tokens: TokenService
    let sessions: SessionStore
    let throttle: LoginThrottle
    let users: UserRepository
    let viewCache: UserViewCache
    let verifiedTokens = VerifiedTokenCache()
    let mongo: MongoClient
    let redis: RedisClient
    let configuration: Configuration
    /// bcrypt is deliberately slow: it runs here, never on an event loop or the cooperative pool.
    let hashing: NIOThreadPool
    /// The revocation feed that keeps the session cache current (nil without a cache).
    private let sessionFeed: RedisSubscription?

    public init(mongo: MongoClient, redis: RedisClient, configuration: Configuration = .init()) {
        self.mongo = mongo
        self.redis = redis
        self.configuration = configuration
        tokens = TokenService(mongo: mongo, accessTokenLifetime: configuration.accessTokenLifetime, vault: configuration.signingKeyVault)
        let cache = configuration.sessionCacheMaxAge > .zero
            ? LocalIdentityCache(maxAge: configuration.sessionCacheMaxAge) { [redis] id in
                Task { _ = try? await redis.publish(LocalIdentityCache.acknowledgementChannel, id) }
            }
            : nil
        sessions = SessionStore(redis: redis, refreshLifetime: configuration.refreshTokenLifetime, cache: cache)
        sessionFeed = cache.map { redis.listen([LocalIdentityCache.noticeChannel, LocalIdentityCache.acknowledgementChannel], listener: $0) }
        throttle = LoginThrottle(redis: redis, limit: configuration.loginFailureLimit)
        users = UserRepository(mongo: mongo)
        viewCache = UserViewCache(redis: redis, local: cache)
        hashing = NIOThreadPool(numberOfThreads: 2)
        hashing.start()
    }

    deinit { sessionFeed?.cancel() }

    /// Returns once the session cache follows the revocation feed (at once without a cache):
    /// until then every request asks Redis.
    public func followingRevocations() async { await sessionFeed?.waitUntilSubscribed() }

    /// Indexes and signing keys; run once at start-up.
    public func prepare() async throws {
        try await users.prepare()
        try await Outbox.prepare(mongo)
        try await tokens.prepare()
    }

    public struct TokenPair: Codable, Sendable {
        public var user: UserView
        public var accessToken: String
        public var refreshToken: String
        public var expiresIn: Int
        public var tokenType = "Bearer"
        /// Present it at the next login from this device: a known device is not throttled by
        /// other people's failures from the same address (login and registration give one).
        public var deviceToken: String?
    }

    // MARK: registration and login

    public func register(email rawEmail: String, password: String, name rawName: String, role rawRole: String, traceparent: String?) async throws -> TokenPair {
        guard let email = Credentials.normalizeEmail(rawEmail) else { throw DomainError.validation("email is not a valid address") }
        if let problem = Credentials.passwordProblem(password) { throw DomainError(kind: .unprocessableContent, code: "weak_password", title: "The password is refused", detail: problem) }
        guard let name = Credentials.validName(rawName) else { throw DomainError.validation("name must have 1 to 100 characters") }
        guard let role = Role(rawValue: rawRole), role != .admin else {
            throw DomainError.validation("role must be 'client' or 'provider'")
        }
        let cost = configuration.bcryptCost
        let hash = try await hashing.runIfActive { Bcrypt.hash(password, cost: cost) }
        let now = Date()
        let user = User(_id: UUID().uuidString.lowercased(), email: email, passwordHash: hash, name: name, role: role, status: .active,
                        phone: nil, avatarURL: nil, addresses: [], createdAt: now, updatedAt: now)
        let event = try EventEnvelope(source: IdentityEvents.source, type: IdentityEvents.userRegistered, aggregateID: user._id,
                                      payload: IdentityEvents.UserRegistered(userId: user._id, email: email, name: name, role: role.rawValue),
                                      traceparent: traceparent)
        do {
            try await mongo.withTransaction { session in
                try session.collection(UserRepository.collectionName, as: User.self).insert(user)
                try Outbox.append(event, to: .users, in: session)
            }
        } catch let error as MongoError where error.isDuplicateKey {
            throw DomainError.conflict("email_taken", "an account with this email already exists")
        }
        var pair = try await issueTokens(for: user)
        pair.deviceToken = try await throttle.newDevice(email: email)
        return pair
    }

    public func login(email rawEmail: String, password: String, clientAddress: String, deviceToken: String? = nil) async throws -> TokenPair {
        let email = Credentials.normalizeEmail(rawEmail) ?? rawEmail.lowercased()
        let client = try await throttle.client(email: email, address: clientAddress, deviceToken: deviceToken)
        if let retryAfter = try await throttle.retryAfter(email: email, client: client) {
            throw DomainError(kind: .tooManyRequests, code: "too_many_attempts", title: "Too many failed logins",
                          detail: "try again later", retryAfter: retryAfter)
        }
        let user = try await users.find(email: email)
        // Hash even when there is no such user, so that timing does not tell which part was wrong.
        // (The dummy hash is computed lazily: on the hashing pool too, never on the caller's thread.)
        let stored = user?.passwordHash
        let matches = try await hashing.runIfActive { Bcrypt.verify(password, hash: stored ?? Self.dummyHash) }
        guard let user, matches, user.status != .deleted else {
            try await throttle.recordFailure(email: email, client: client)
            throw DomainError(kind: .unauthorized, code: "invalid_credentials", title: "Wrong email or password")
        }
        guard user.status == .active else {
            throw DomainError(kind: .forbidden, code: "account_suspended", title: "This account is suspended")
        }
        var pair = try await issueTokens(for: user)
        pair.deviceToken = try await throttle.succeeded(email: email, client: client, presented: deviceToken)
        return pair
    }

    static let dummyHash = Bcrypt.hash("not-a-real-password", cost: 10)

    public func refresh(_ refreshToken: String) async throws -> TokenPair {
        switch try await sessions.rotate(refreshToken) {
        case .unknown:
            throw DomainError(kind: .unauthorized, code: "invalid_refresh_token", title: "The refresh token is not valid")
        case .reused:
            throw DomainError(kind: .unauthorized, code: "refresh_token_reused",
                          title: "This refresh token was already used", detail: "the session has been revoked")
        case .rotated(let userID, _, let sessionID, let next):
            guard let user = try await users.find(id: userID), user.status == .active else {
                try await sessions.revoke(sessionID, userID: userID)
                throw DomainError(kind: .unauthorized, code: "invalid_refresh_token", title: "The refresh token is not valid")
            }
            let access = try await tokens.issue(userID: user._id, role: user.role, sessionID: sessionID)
            return TokenPair(user: user.view, accessToken: access, refreshToken: next, expiresIn: await tokens.lifetime)
        }
    }

    public func logout(_ caller: Caller) async throws {
        try await sessions.revoke(caller.sessionID, userID: caller.userID)
    }

    private func issueTokens(for user: User) async throws -> TokenPair {
        let session = try await sessions.open(userID: user._id, role: user.role)
        let access = try await tokens.issue(userID: user._id, role: user.role, sessionID: session.sessionID)
        return TokenPair(user: user.view, accessToken: access, refreshToken: session.refreshToken, expiresIn: await tokens.lifetime)
    }

    // MARK: profile

    /// The caller's account as response JSON, from the cache when it is there.
    public func meJSON(_ caller: Caller) async throws -> [UInt8] {
        if let cached = await viewCache.json(caller.userID) { return cached }
        guard let user = try await users.find(id: caller.userID), user.status != .deleted else { throw DomainError.notFound("user") }
        if let json = await viewCache.put(user.view) { return json }
        return try UserViewCache.encode(user.view)
    }

    public struct ProfileChange: Codable, Sendable {
        public var name: String?
        public var phone: String?
        public var avatarURL: String?
        public var addresses: [PostalAddress]?
    }

    public func updateProfile(_ caller: Caller, _ change: ProfileChange, traceparent: String?) async throws -> UserView {
        var set = BSONDocument()
        var fields: [String] = []
        if let name = change.name {
            guard let valid = Credentials.validName(name) else { throw DomainError.validation("name must have 1 to 100 characters") }
            set["name"] = .string(valid); fields.append("name")
        }
        if let phone = change.phone {
            guard phone.range(of: #"^\+?[0-9 ()-]{6,20}$"#, options: .regularExpression) != nil else { throw DomainError.validation("phone is not a phone number") }
            set["phone"] = .string(phone); fields.append("phone")
        }
        if let avatar = change.avatarURL {
            guard let url = URL(string: avatar), url.scheme == "https", url.host != nil else { throw DomainError.validation("avatarURL must be an https URL") }
            set["avatarURL"] = .string(avatar); fields.append("avatarURL")
        }
        if let addresses = change.addresses {
            guard addresses.count <= 10 else { throw DomainError.validation("at most 10 addresses") }
            set["addresses"] = try BSONEncoder().encodeValue(addresses); fields.append("addresses")
        }
        guard !fields.isEmpty else { throw DomainError.validation("nothing to change") }
        set["updatedAt"] = .date(Date())
        let event = try EventEnvelope(source: IdentityEvents.source, type: IdentityEvents.profileUpdated, aggregateID: caller.userID,
                                      payload: IdentityEvents.ProfileUpdated(userId: caller.userID, fields: fields), traceparent: traceparent)
        let updated: User? = try await mongo.withTransaction { [set] session in
            let user = try session.collection(UserRepository.collectionName, as: User.self)
                .findOneAndUpdate(["_id": .string(caller.userID), "status": "active"], ["$set": .document(set)])
            if user != nil { try Outbox.append(event, to: .users, in: session) }
            return user
        }
        guard let updated else { throw DomainError.notFound("user") }
        await viewCache.changed(updated.view)
        return updated.view
    }
}
