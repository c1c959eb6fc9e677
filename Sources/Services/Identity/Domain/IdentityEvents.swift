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
}
