/// A session (or every session of a user) that ended before its tokens expired: logout, a reused
/// refresh token, suspension, deletion, a password reset.
public struct SessionRevocation: Codable, Sendable, Equatable {
    public var userID: String
    /// nil: every session of the user.
    public var sessionID: String?

    public init(userID: String, sessionID: String? = nil) {
        self.userID = userID
        self.sessionID = sessionID
    }

    /// Whether a caller authenticated by a token of this session (or user) is cut off.
    public func covers(_ caller: Caller) -> Bool {
        caller.userID == userID && (sessionID == nil || sessionID == caller.sessionID)
    }
}

/// Revocations as they happen, for whoever holds long-lived authenticated connections (the
/// realtime gateway): a token stays valid until it expires, so they must hear of revocations to
/// end those connections at once. Identity provides it.
public protocol SessionRevocationFeed: Sendable {
    /// Calls `handle` for every revocation from now on, until the calling task is cancelled;
    /// throws when the feed is lost (the caller follows it again).
    func follow(_ handle: @escaping @Sendable (SessionRevocation) -> Void) async throws
}
