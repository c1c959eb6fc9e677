/// How to reach a user: the e-mail address, phone and name Identity holds, and whether the
/// account can be contacted at all. Identity provides it; Notifications reads no Identity data.
public struct Contact: Sendable, Equatable {
    public var userId: String
    public var email: String
    public var name: String
    /// As the user typed it; `e164` is the form SMS needs.
    public var phone: String?
    public var role: Role
    public var active: Bool

    public init(userId: String, email: String, name: String, phone: String?, role: Role, active: Bool) {
        self.userId = userId
        self.email = email
        self.name = name
        self.phone = phone
        self.role = role
        self.active = active
    }

    /// The phone number in E.164 (`+` and 8 to 15 digits), nil when it has no country code.
    public var e164: String? {
        guard let phone, phone.hasPrefix("+") else { return nil }
        let digits = phone.filter(\.isNumber)
        guard (8...15).contains(digits.count) else { return nil }
        return "+" + digits
    }
}

public protocol ContactDirectory: Sendable {
    func contact(of userID: String) async throws -> Contact?
}
