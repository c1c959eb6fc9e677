/// Who is calling, as established from a verified access token (over HTTP by the authorization
/// middleware, on the WebSocket by the gateway's `connect`).
public struct Caller: Sendable, Equatable {
    public typealias Role = MarketplaceContracts.Role
    public var userID: String
    public var role: Role
    public var sessionID: String

    public init(userID: String, role: Role, sessionID: String) {
        self.userID = userID
        self.role = role
        self.sessionID = sessionID
    }
}
