import Foundation

/// Events the Identity service publishes (through the outbox) on `Topic.users` and `Topic.auth`.
public enum IdentityEvents {
    public static let source = "/services/identity"

    public static let userRegistered: EventType = "marketplace.user.registered.v1"
    public static let profileUpdated: EventType = "marketplace.user.profile-updated.v1"
    public static let providerProfileUpdated: EventType = "marketplace.provider.profile-updated.v1"
    public static let userSuspended: EventType = "marketplace.user.suspended.v1"
    public static let userReinstated: EventType = "marketplace.user.reinstated.v1"
    public static let userDeleted: EventType = "marketplace.user.deleted.v1"
    public static let passwordResetRequested: EventType = "marketplace.auth.password-reset-requested.v1"

    public struct UserRegistered: Codable, Sendable, Equatable {
        public var userId: String
        public var email: String
        public var name: String
        public var role: String

        public init(userId: String, email: String, name: String, role: String) {
            self.userId = userId
            self.email = email
            self.name = name
            self.role = role
        }
    }

    public struct ProfileUpdated: Codable, Sendable, Equatable {
        public var userId: String
        public var fields: [String]

        public init(userId: String, fields: [String]) {
            self.userId = userId
            self.fields = fields
        }
    }

    public struct ProviderProfileUpdated: Codable, Sendable, Equatable {
        public var providerId: String
        public var categories: [String]
        public var serviceRadiusKm: Double
        public var currency: String
        public var hourlyRate: String
        /// IANA; nil: UTC.
        public var timeZone: String?

        public init(providerId: String, categories: [String], serviceRadiusKm: Double, currency: String, hourlyRate: String, timeZone: String? = nil) {
            self.timeZone = timeZone
            self.providerId = providerId
            self.categories = categories
            self.serviceRadiusKm = serviceRadiusKm
            self.currency = currency
            self.hourlyRate = hourlyRate
        }
    }

    public struct UserStatusChanged: Codable, Sendable, Equatable {
        public var userId: String
        public var status: String
        public var by: String

        public init(userId: String, status: String, by: String) {
            self.userId = userId
            self.status = status
            self.by = by
        }
    }

    public struct UserDeleted: Codable, Sendable, Equatable {
        public var userId: String

        public init(userId: String) {
            self.userId = userId
        }
    }

    /// Carries the single-use token to the notification worker, which e-mails the link.
    public struct PasswordResetRequested: Codable, Sendable, Equatable {
        public var userId: String
        public var email: String
        public var token: String
        public var expiresAt: Date

        public init(userId: String, email: String, token: String, expiresAt: Date) {
            self.userId = userId
            self.email = email
            self.token = token
            self.expiresAt = expiresAt
        }
    }
}
