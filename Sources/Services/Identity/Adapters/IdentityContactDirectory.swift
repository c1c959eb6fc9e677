import MarketplaceContracts

/// The `ContactDirectory` port over Identity's users: how Notifications reaches a user, read
/// here so that no other module reads the `users` collection.
public struct IdentityContactDirectory: ContactDirectory {
    let users: UserRepository

    public init(service: IdentityService) { users = service.users }

    public func contact(of userID: String) async throws -> Contact? {
        guard let user = try await users.find(id: userID), user.status != .deleted else { return nil }
        return Contact(userId: user._id, email: user.email, name: user.name, phone: user.phone, role: user.role, active: user.status == .active)
    }
}
