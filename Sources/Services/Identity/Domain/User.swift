import Foundation
import MarketplaceContracts

public enum UserStatus: String, Codable, Sendable { case active, suspended, deleted }

/// A registered person. Stored in MongoDB (`users`, unique on `email`).
public struct User: Codable, Sendable, Equatable {
    public var _id: String
    public var email: String
    public var passwordHash: String
    public var name: String
    public var role: Role
    public var status: UserStatus
    public var phone: String?
    public var avatarURL: String?
    public var addresses: [PostalAddress]
    public var createdAt: Date
    public var updatedAt: Date

    /// What the API shows of a user (never the password hash).
    public var view: UserView {
        UserView(id: _id, email: email, name: name, role: role, status: status, phone: phone, avatarURL: avatarURL,
                 addresses: addresses, createdAt: createdAt)
    }
}

public struct UserView: Codable, Sendable, Equatable {
    public var id: String
    public var email: String
    public var name: String
    public var role: Role
    public var status: UserStatus
    public var phone: String?
    public var avatarURL: String?
    public var addresses: [PostalAddress]
    public var createdAt: Date
}
