import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceKafka
import MarketplaceMessaging
import Metrics
import NIOCore
import ServiceLifecycle
import Synchronization

/// Prometheus metrics of a gateway node.
struct GatewayMetrics: Sendable {
    let connections = Meter(label: "realtime_connections")
    let subscriptions = Meter(label: "realtime_subscriptions")
    let subscribedChannels = Gauge(label: "realtime_channels")
    let publicationsIn = Counter(label: "realtime_publications_in_total")
    let deliveries = Counter(label: "realtime_deliveries_total")
    let framesOut = Counter(label: "realtime_frames_out_total")
    let slowDisconnects = Counter(label: "realtime_slow_consumer_disconnects_total")
    let queuedFrames = Gauge(label: "realtime_queued_frames")
    let deliveryDelay = Timer(label: "realtime_delivery_delay_seconds")
    let historyFailures = Counter(label: "realtime_history_failures_total")
    let readPauses = Counter(label: "realtime_read_pauses_total")
    /// Connections ended because their session was revoked elsewhere.
    let revokedDisconnects = Counter(label: "realtime_revoked_disconnects_total")
}
