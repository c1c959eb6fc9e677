import MarketplaceContracts

/// The `PresenceDirectory` port: a user is connected while some gateway node holds a live
/// subscription of theirs to `user:<id>` (entries age out after `presence.ttl` when a node dies).
public struct GatewayPresenceDirectory: PresenceDirectory {
    let presence: PresenceStore

    public init(presence: PresenceStore) { self.presence = presence }

    public func isConnected(_ userID: String) async throws -> Bool {
        try await !presence.list(RealtimeChannel.user(userID).name).isEmpty
    }
}
