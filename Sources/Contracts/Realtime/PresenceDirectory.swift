/// Whether a user is connected to the realtime gateway right now (subscribed to their `user:`
/// channel on some node), so that what is pushed there is seen at once. The Realtime module
/// provides it; Notifications uses it to choose in-app over a push.
public protocol PresenceDirectory: Sendable {
    func isConnected(_ userID: String) async throws -> Bool
}
