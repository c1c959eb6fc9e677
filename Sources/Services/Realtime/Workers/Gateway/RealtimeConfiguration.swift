import Foundation
import MarketplaceContracts

/// The gateway's limits and timings.
public struct RealtimeConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Identifies this node's Kafka consumer group (each node reads every record).
    public var nodeID: String
    /// Largest WebSocket message accepted; bigger ones end the connection with 3501.
    public var maxMessageBytes: Int
    public var maxSubscriptions: Int
    /// Token bucket per connection: sustained rate and burst.
    public var commandsPerSecond: Double
    public var commandBurst: Double
    /// Unsent data above this for longer than `slowConsumerAfter` (or above 8× this at any
    /// moment) disconnects the connection as slow (3008).
    public var maxQueuedBytes: Int
    public var slowConsumerAfter: Duration
    public var pingInterval: Duration
    /// A connection that has not sent `connect` by then is closed (3502 stale).
    public var connectTimeout: Duration
    public var presenceTTL: TimeInterval
    public var historySize: Int
    public var historyTTL: Duration

    public init(host: String = "127.0.0.1", port: Int = 8001, nodeID: String = ProcessInfo.processInfo.hostName + "-" + String(getpid()),
                maxMessageBytes: Int = 65_536, maxSubscriptions: Int = 128,
                commandsPerSecond: Double = 50, commandBurst: Double = 100, maxQueuedBytes: Int = 1 << 20, slowConsumerAfter: Duration = .seconds(3),
                pingInterval: Duration = .seconds(25), connectTimeout: Duration = .seconds(10), presenceTTL: TimeInterval = 60,
                historySize: Int = 100, historyTTL: Duration = .seconds(600)) {
        self.host = host
        self.port = port
        self.nodeID = nodeID
        self.maxMessageBytes = maxMessageBytes
        self.maxSubscriptions = maxSubscriptions
        self.commandsPerSecond = commandsPerSecond
        self.commandBurst = commandBurst
        self.maxQueuedBytes = maxQueuedBytes
        self.slowConsumerAfter = slowConsumerAfter
        self.pingInterval = pingInterval
        self.connectTimeout = connectTimeout
        self.presenceTTL = presenceTTL
        self.historySize = historySize
        self.historyTTL = historyTTL
    }
}
