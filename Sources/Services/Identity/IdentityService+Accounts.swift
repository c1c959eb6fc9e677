import Foundation
import HummingbirdBcrypt
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo
import MarketplaceRedis

/// Password reset, account deletion, provider profiles and administration.
extension IdentityService {
    static let resetTokenLifetime: TimeInterval = 30 * 60

    // MARK: password reset

    /// Always succeeds from the caller's point of view (202): whether the address has an account
    /// is not revealed. For an active account, a single-use token (30 minutes) is stored in Redis
    /// and published for the notification worker.
    public func requestPasswordReset(email rawEmail: String, traceparent: String?) async throws {
        guard let email = Credentials.normalizeEmail(rawEmail), let user = try await users.find(email: email), user.status == .active else { return }
        let token = SessionStore.randomToken(bytes: 32)
        let expiresAt = Date().addingTimeInterval(Self.resetTokenLifetime)
        try await redis.set("password-reset:\(SessionStore.digest(token))", user._id, ttl: .seconds(Int64(Self.resetTokenLifetime)))
        let event = try EventEnvelope(source: IdentityEvents.source, type: IdentityEvents.passwordResetRequested, aggregateID: user._id,
                                      payload: IdentityEvents.PasswordResetRequested(userId: user._id, email: email, token: token, expiresAt: expiresAt),
                                      traceparent: traceparent)
        try await mongo.withTransaction { session in try Outbox.append(event, to: .auth, in: session) }
    }

    /// Sets a new password with a reset token (usable once) and ends every session of the user.
    public func confirmPasswordReset(token: String, password: String) async throws {
        if let problem = Credentials.passwordProblem(password) {
            throw DomainError(kind: .unprocessableContent, code: "weak_password", title: "The password is refused", detail: problem)
        }
        // GETDEL: the token works once, even when two confirmations race.
        let userID = try await redis.send("GETDEL", "password-reset:\(SessionStore.digest(token))").string
        guard let userID else {
            throw DomainError(kind: .badRequest, code: "invalid_reset_token", title: "The reset token is invalid or expired")
        }
        let cost = configuration.bcryptCost
        let hash = try await hashing.runIfActive { Bcrypt.hash(password, cost: cost) }
        let updated = try await users.users.updateOne(["_id": .string(userID), "status": "active"],
                                                     ["$set": ["passwordHash": .string(hash), "updatedAt": .date(Date())]])
        guard updated.matched == 1 else {
            throw DomainError(kind: .badRequest, code: "invalid_reset_token", title: "The reset token is invalid or expired")
        }
        try await sessions.revokeAll(userID: userID)
        if let user = try await users.find(id: userID) { try await throttle.reset(email: user.email) }
    }

    // MARK: deletion

    /// Anonymises the account (the id stays for referential history), ends its sessions,
    /// removes its provider profile and publishes `user.deleted`.
    public func deleteAccount(_ caller: Caller, traceparent: String?) async throws {
        let event = try EventEnvelope(source: IdentityEvents.source, type: IdentityEvents.userDeleted, aggregateID: caller.userID,
                                      payload: IdentityEvents.UserDeleted(userId: caller.userID), traceparent: traceparent)
        let userID = caller.userID
        let deleted: Bool = try await mongo.withTransaction { session in
            let result = try session.collection(UserRepository.collectionName, as: User.self).updateOne(
                ["_id": .string(userID), "status": ["$ne": "deleted"]],
                ["$set": ["email": .string("deleted-\(userID)@deleted.invalid"), "name": "Deleted user", "passwordHash": "",
                          "status": "deleted", "addresses": .array([]), "updatedAt": .date(Date())],
                 "$unset": ["phone": "", "avatarURL": ""]])
            guard result.matched == 1 else { return false }
            try session.collection(Self.profilesCollection, as: ProviderProfile.self).deleteOne(["_id": .string(userID)])
            try Outbox.append(event, to: .users, in: session)
            return true
        }
        guard deleted else { throw DomainError.notFound("user") }
        try await viewCache.drop(userID)
        try await sessions.revokeAll(userID: userID)
    }

    // MARK: provider profiles

    static let profilesCollection = "provider_profiles"

    public func putProviderProfile(_ caller: Caller, _ input: ProviderProfileInput, traceparent: String?) async throws -> PublicProviderView {
        guard caller.role == .provider else {
            throw DomainError(kind: .forbidden, code: "forbidden", title: "Only providers have a provider profile")
        }
        if let problem = input.problem() { throw DomainError.validation(problem) }
        let profile = ProviderProfile(_id: caller.userID, categories: Array(Set(input.categories)).sorted(), bio: input.bio,
                                      serviceRadiusKm: input.serviceRadiusKm, pricing: input.pricing,
                                      workingHours: input.workingHours.sorted { ($0.day, $0.start) < ($1.day, $1.start) }, timeZone: input.timeZone, updatedAt: Date())
        let event = try EventEnvelope(
            source: IdentityEvents.source, type: IdentityEvents.providerProfileUpdated, aggregateID: caller.userID,
            payload: IdentityEvents.ProviderProfileUpdated(providerId: caller.userID, categories: profile.categories, serviceRadiusKm: profile.serviceRadiusKm,
                                                           currency: profile.pricing.currency, hourlyRate: profile.pricing.hourlyRate.description,
                                                           timeZone: profile.timeZone),
            traceparent: traceparent)
        let document = try BSONEncoder().encode(profile)
        try await mongo.withTransaction { session in
            try session.collection(Self.profilesCollection, as: ProviderProfile.self)
                .updateOne(["_id": .string(caller.userID)], ["$set": .document(document)], upsert: true)
            try Outbox.append(event, to: .users, in: session)
        }
        return try await providerView(id: caller.userID)
    }

    /// The public view of a provider; 404 for anyone who is not an active provider with a profile.
    public func providerView(id: String) async throws -> PublicProviderView {
        guard let user = try await users.find(id: id), user.role == .provider, user.status == .active,
              let profile = try await mongo.collection(Self.profilesCollection, as: ProviderProfile.self).findOne(["_id": .string(id)]) else {
            throw DomainError.notFound("provider")
        }
        return PublicProviderView(id: user._id, name: user.name, avatarURL: user.avatarURL, categories: profile.categories, bio: profile.bio,
                                  serviceRadiusKm: profile.serviceRadiusKm, pricing: profile.pricing, workingHours: profile.workingHours,
                                  rating: profile.rating, ratingCount: profile.ratingCount)
    }

    // MARK: administration

    public struct UserPage: Codable, Sendable {
        public var items: [UserView]
        public var total: Int
        public var page: Int
        public var limit: Int
    }

    public struct UserQuery: Sendable {
        public var role: Role?
        public var status: UserStatus?
        public var text: String?
        public var sort: String
        public var page: Int
        public var limit: Int

        public init(role: Role? = nil, status: UserStatus? = nil, text: String? = nil, sort: String = "-createdAt", page: Int = 1, limit: Int = 20) {
            self.role = role
            self.status = status
            self.text = text
            self.sort = sort
            self.page = page
            self.limit = limit
        }

        static let sortable = ["createdAt", "email", "name"]
    }

    public func listUsers(_ caller: Caller, _ query: UserQuery) async throws -> UserPage {
        guard caller.role == .admin else { throw DomainError.forbidden }
        var filter = BSONDocument()
        if let role = query.role { filter["role"] = .string(role.rawValue) }
        if let status = query.status { filter["status"] = .string(status.rawValue) }
        if let text = query.text, !text.isEmpty {
            let pattern = NSRegularExpression.escapedPattern(for: text)
            filter["$or"] = [["email": ["$regex": .string(pattern), "$options": "i"]], ["name": ["$regex": .string(pattern), "$options": "i"]]]
        }
        let descending = query.sort.hasPrefix("-")
        let field = descending ? String(query.sort.dropFirst()) : query.sort
        let collection = users.users
        async let total = collection.count(filter)
        async let items = collection.find(filter, options: FindOptions(sort: [field: .int32(descending ? -1 : 1), "_id": 1],
                                                                       skip: (query.page - 1) * query.limit, limit: query.limit))
        return UserPage(items: try await items.map(\.view), total: try await total, page: query.page, limit: query.limit)
    }

    /// Suspends or reinstates an account; suspension ends its sessions at once.
    public func setStatus(_ caller: Caller, userID: String, suspended: Bool, traceparent: String?) async throws -> UserView {
        guard caller.role == .admin else { throw DomainError.forbidden }
        guard userID != caller.userID else { throw DomainError.conflict("cannot_suspend_self", "an admin cannot suspend their own account") }
        let (from, to): (UserStatus, UserStatus) = suspended ? (.active, .suspended) : (.suspended, .active)
        let event = try EventEnvelope(source: IdentityEvents.source, type: suspended ? IdentityEvents.userSuspended : IdentityEvents.userReinstated,
                                      aggregateID: userID, payload: IdentityEvents.UserStatusChanged(userId: userID, status: to.rawValue, by: caller.userID),
                                      traceparent: traceparent)
        let changed: User? = try await mongo.withTransaction { session in
            let user = try session.collection(UserRepository.collectionName, as: User.self).findOneAndUpdate(
                ["_id": .string(userID), "status": .string(from.rawValue)], ["$set": ["status": .string(to.rawValue), "updatedAt": .date(Date())]])
            if user != nil { try Outbox.append(event, to: .users, in: session) }
            return user
        }
        if suspended { try await sessions.revokeAll(userID: userID) }
        try await viewCache.drop(userID)
        if let changed { return changed.view }
        // Nothing changed: say why (unknown user, or already in that state).
        guard let current = try await users.find(id: userID), current.status != .deleted else { throw DomainError.notFound("user") }
        throw DomainError.conflict("invalid_status_change", "the account is \(current.status.rawValue)")
    }

    /// Creates an administrator (nobody registers as one): used by `marketplace users create-admin`.
    public func createAdmin(email rawEmail: String, password: String, name: String) async throws -> UserView {
        guard let email = Credentials.normalizeEmail(rawEmail) else { throw DomainError.validation("email is not a valid address") }
        if let problem = Credentials.passwordProblem(password) { throw DomainError.validation(problem) }
        let cost = configuration.bcryptCost
        let hash = try await hashing.runIfActive { Bcrypt.hash(password, cost: cost) }
        let now = Date()
        let user = User(_id: UUID().uuidString.lowercased(), email: email, passwordHash: hash, name: Credentials.validName(name) ?? "Administrator",
                        role: .admin, status: .active, phone: nil, avatarURL: nil, addresses: [], createdAt: now, updatedAt: now)
        do { try await users.users.insert(user) } catch let error as MongoError where error.isDuplicateKey {
            throw DomainError.conflict("email_taken", "an account with this email already exists")
        }
        return user.view
    }
}
