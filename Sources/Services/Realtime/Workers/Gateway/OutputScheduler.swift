import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import MarketplaceContracts
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import Synchronization

/// Drains the send queues of one event loop's connections: deliveries from the fan-out reader
/// mark connections ready here, and one task on the event loop writes to all of them (instead of
/// a task, or an `execute`, per connection and frame).
final class OutputScheduler: Sendable {
    let eventLoop: any EventLoop
    private let ready = Mutex<(handlers: [GatewaySocketHandler], scheduled: Bool)>(([], false))

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    func schedule(_ handler: GatewaySocketHandler) {
        let execute = ready.withLock { ready -> Bool in
            ready.handlers.append(handler)
            defer { ready.scheduled = true }
            return !ready.scheduled
        }
        if execute { eventLoop.execute { self.run() } }
    }

    private func run() {
        let handlers = ready.withLock { ready in
            ready.scheduled = false
            defer { ready.handlers.removeAll(keepingCapacity: true) }
            return ready.handlers
        }
        for handler in handlers { handler.drain() }
    }
}
