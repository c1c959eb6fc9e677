import Foundation
import MarketplaceDomain

/// Events the Identity service publishes (through the outbox) on `marketplace.users.v1` and
/// `marketplace.auth.v1`.
public enum IdentityEvents {
    public static let source = "/services/identity"
    public static let usersTopic = "marketplace.users.v1"
    public static let authTopic = "marketplace.auth.v1"

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
    }

    public struct ProfileUpdated: Codable, Sendable, Equatable {
        public var userId: String
        public var fields: [String]
    }

    public struct ProviderProfileUpdated: Codable, Sendable, Equatable {
        public var providerId: String
        public var categories: [String]
        public var serviceRadiusKm: Double
        public var currency: String
        public var hourlyRate: String
    }

    public struct UserStatusChanged: Codable, Sendable, Equatable {
        public var userId: String
        public var status: String
        public var by: String
    }

    public struct UserDeleted: Codable, Sendable, Equatable {
        public var userId: String
    }

    /// Carries the single-use token to the notification worker, which e-mails the link.
    public struct PasswordResetRequested: Codable, Sendable, Equatable {
        public var userId: String
        public var email: String
        public var token: String
        public var expiresAt: Date
    }
}
