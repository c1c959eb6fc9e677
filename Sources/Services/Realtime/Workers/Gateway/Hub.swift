import MarketplaceContracts
import Synchronization

/// This node's subscribers per channel. Delivery renders a publication's frame once and appends
/// it to every subscriber's send queue; nothing here waits for a client.
final class Hub: Sendable {
    private let channels = Mutex<[String: [String: ClientConnection]]>([:])

    func add(_ connection: ClientConnection, to channel: String) {
        channels.withLock { $0[channel, default: [:]][connection.id] = connection }
    }

    func remove(_ connection: ClientConnection, from channel: String) {
        channels.withLock { channels in
            channels[channel]?[connection.id] = nil
            if channels[channel]?.isEmpty == true { channels[channel] = nil }
        }
    }

    func subscribers(of channel: String) -> [ClientConnection] {
        channels.withLock { $0[channel].map { Array($0.values) } ?? [] }
    }

    /// Channels with at least one subscriber on this node.
    var channelCount: Int { channels.withLock { $0.count } }
}
