import Foundation
import MarketplaceContracts
import MarketplaceHTTP
import Synchronization

/// One WebSocket client: its authentication, subscriptions (each with its stream position), send
/// queue, command inbox, command rate and ping state. Commands are handled one after another by
/// a task that exists only while some are pending; deliveries from the node's Kafka reader only
/// append to the send queue.
final class ClientConnection: Sendable {
    enum Phase: Sendable {
        case awaitingConnect(since: ContinuousClock.Instant)
        /// A `connect` arrived and its token is being verified. The stale timer no longer applies
        /// (on a loaded node verification can take longer than the connect timeout), only the much
        /// longer `authenticationBound`; a refused token goes back to waiting since `waitingSince`.
        case authenticating(waitingSince: ContinuousClock.Instant, started: ContinuousClock.Instant)
        case connected(Caller, expiresAt: Date)
        case closed
    }

    /// A subscription's delivery state. While the subscribe command is in flight, deliveries are
    /// held in `pending` so that none overtakes the subscribe reply or falls into the gap
    /// between the history read and going live; `position` drops what the client already has.
    struct Subscription: Sendable {
        var channel: RealtimeChannel
        var position: UInt64
        var pending: [(offset: UInt64, frame: String)]?
    }

    private struct State: Sendable {
        var phase: Phase
        /// Who this client authenticated as; kept after the connection closes, so that cleaning up
        /// (presence, leave pushes) still knows whose entries to remove.
        var info: ClientInfo?
        var subscriptions: [String: Subscription] = [:]
        var tokens: Double
        var refilledAt = ContinuousClock.now
        var rejectedInARow = 0
        var pingSentAt: ContinuousClock.Instant?
        var pongSincePing = true
        var disconnect: Disconnect?
    }

    /// Messages received and not handled yet. Reading from the socket pauses while too many wait
    /// (a client flooding commands is slowed by TCP, not by memory).
    private struct Inbox: Sendable {
        var messages: [String] = []
        var handling = false
        var paused = false
    }

    static let inboxPauseAt = 16
    /// How long a received `connect` may take to verify before the connection is given up.
    static let authenticationBound: Duration = .seconds(60)

    let id = UUID().uuidString.lowercased()
    let queue: SendQueue
    private let state: Mutex<State>
    private let inbox = Mutex(Inbox())
    private let configuration: RealtimeConfiguration
    /// Pauses or resumes reading from the socket.
    private let setReading: @Sendable (Bool) -> Void
    /// Forcibly ends the transport when a polite close cannot be sent (a stalled client).
    let abort: @Sendable () -> Void

    init(configuration: RealtimeConfiguration, wake: @escaping @Sendable () -> Void = {},
         setReading: @escaping @Sendable (Bool) -> Void = { _ in }, abort: @escaping @Sendable () -> Void) {
        self.configuration = configuration
        self.queue = SendQueue(maxBytes: configuration.maxQueuedBytes, slowAfter: configuration.slowConsumerAfter, wake: wake)
        self.setReading = setReading
        self.abort = abort
        self.state = Mutex(State(phase: .awaitingConnect(since: .now), tokens: configuration.commandBurst))
    }

    // MARK: inbox

    /// A message arrived; true when no task is handling this connection's messages yet.
    func receive(_ message: String) -> Bool {
        let (start, pause) = inbox.withLock { inbox -> (Bool, Bool) in
            inbox.messages.append(message)
            let pause = !inbox.paused && inbox.messages.count >= Self.inboxPauseAt
            if pause { inbox.paused = true }
            defer { inbox.handling = true }
            return (!inbox.handling, pause)
        }
        if pause { setReading(false) }
        return start
    }

    /// The next message to handle; nil (and the handling task ends) when none is waiting or the
    /// connection closed.
    func nextMessage() -> String? {
        let closed = if case .closed = phase { true } else { false }
        let (message, resume) = inbox.withLock { inbox -> (String?, Bool) in
            if closed { inbox.messages = [] }
            guard !inbox.messages.isEmpty else {
                inbox.handling = false
                return (nil, false)
            }
            let message = inbox.messages.removeFirst()
            let resume = inbox.paused && inbox.messages.count < Self.inboxPauseAt / 4
            if resume { inbox.paused = false }
            return (message, resume)
        }
        if resume { setReading(true) }
        return message
    }

    var phase: Phase { state.withLock { $0.phase } }
    var disconnectReason: Disconnect? { state.withLock { $0.disconnect } }
    var caller: Caller? { if case .connected(let caller, _) = phase { caller } else { nil } }
    var info: ClientInfo? { state.withLock { $0.info } }
    var subscriptionNames: [String] { state.withLock { Array($0.subscriptions.keys) } }
    var subscriptionCount: Int { state.withLock { $0.subscriptions.count } }

    /// A `connect` command is being handled; see `Phase.authenticating`.
    func authenticationStarted() {
        state.withLock { state in
            if case .awaitingConnect(let since) = state.phase { state.phase = .authenticating(waitingSince: since, started: .now) }
        }
    }
    /// The `connect` was refused without ending the connection (an expired token: the SDK retries).
    func authenticationRefused() {
        state.withLock { state in
            if case .authenticating(let since, _) = state.phase { state.phase = .awaitingConnect(since: since) }
        }
    }

    func connected(_ caller: Caller, expiresAt: Date) {
        state.withLock { state in
            state.phase = .connected(caller, expiresAt: expiresAt)
            state.info = ClientInfo(user: caller.userID, client: id)
        }
    }
    func refreshed(expiresAt: Date) {
        state.withLock { if case .connected(let caller, _) = $0.phase { $0.phase = .connected(caller, expiresAt: expiresAt) } }
    }

    /// The command rate limit (token bucket). Returns nil when allowed, else whether to disconnect.
    func takeCommandToken() -> Bool? {
        state.withLock { state in
            let now = ContinuousClock.now
            let elapsed = now - state.refilledAt
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            state.tokens = min(configuration.commandBurst, state.tokens + seconds * configuration.commandsPerSecond)
            state.refilledAt = now
            if state.tokens >= 1 {
                state.tokens -= 1
                state.rejectedInARow = 0
                return nil
            }
            state.rejectedInARow += 1
            return state.rejectedInARow > Int(configuration.commandBurst)
        }
    }

    func pongReceived() { state.withLock { $0.pongSincePing = true } }

    // MARK: subscriptions

    enum AddResult { case added, alreadySubscribed, limitReached }

    func beginSubscription(_ channel: RealtimeChannel) -> AddResult {
        state.withLock { state in
            if state.subscriptions[channel.name] != nil { return .alreadySubscribed }
            if state.subscriptions.count >= configuration.maxSubscriptions { return .limitReached }
            state.subscriptions[channel.name] = Subscription(channel: channel, position: 0, pending: [])
            return .added
        }
    }

    /// Sends the subscribe reply, then what arrived meanwhile past `position`, and goes live.
    func completeSubscription(_ channel: String, reply: String, position: UInt64) -> SendQueue.Result {
        state.withLock { state in
            guard var subscription = state.subscriptions[channel] else { return .closed }
            var result = queue.push(reply)
            for held in subscription.pending ?? [] where held.offset > position && result == .queued {
                result = queue.push(held.frame)
            }
            subscription.position = max(position, subscription.pending?.last?.offset ?? 0)
            subscription.pending = nil
            state.subscriptions[channel] = subscription
            return result
        }
    }

    @discardableResult
    func removeSubscription(_ channel: String) -> Subscription? {
        state.withLock { $0.subscriptions.removeValue(forKey: channel) }
    }

    /// A frame for one of this connection's channels, outside its stream (join, leave: offset 0).
    func deliver(channel: String, offset: UInt64, frame: String, conflate: Bool) -> SendQueue.Result {
        deliver(channel: channel, publications: [(offset, frame)], conflate: conflate)
    }

    /// Consecutive publications of one channel, offsets increasing (called by the node's Kafka
    /// reader): one lock and one dictionary lookup for the run.
    func deliver(channel: String, publications: [(offset: UInt64, frame: String)], conflate: Bool) -> SendQueue.Result {
        state.withLock { state in
            guard let index = state.subscriptions.index(forKey: channel), let last = publications.last else { return .queued }
            if state.subscriptions.values[index].pending != nil {
                state.subscriptions.values[index].pending!.append(contentsOf: publications)
                return .queued
            }
            let position = state.subscriptions.values[index].position
            // Drop what the client already has (recovery, history); offset 0 is outside the stream.
            let fresh = publications.firstIndex { $0.offset == 0 || $0.offset > position } ?? publications.endIndex
            guard fresh < publications.endIndex else { return .queued }
            if last.offset > position { state.subscriptions.values[index].position = last.offset }
            if conflate { return queue.push(last.frame, conflationKey: channel) }  // only the newest position matters
            return queue.push(contentsOf: publications[fresh...].lazy.map(\.frame))
        }
    }

    // MARK: housekeeping

    enum Due { case nothing, ping, disconnect(Disconnect) }

    /// Called about once a second by the node: pings, missing pongs, expiry, stale connections.
    func housekeeping(now: ContinuousClock.Instant, wallClock: Date) -> Due {
        state.withLock { state in
            switch state.phase {
            case .closed: return .nothing
            case .awaitingConnect(let since):
                return now - since > configuration.connectTimeout ? .disconnect(.stale) : .nothing
            case .authenticating(_, let started):
                return now - started > Self.authenticationBound ? .disconnect(.stale) : .nothing
            case .connected(_, let expiresAt):
                if expiresAt < wallClock { return .disconnect(.expired) }
                if let sent = state.pingSentAt, now - sent < configuration.pingInterval { return .nothing }
                if !state.pongSincePing { return .disconnect(.noPong) }
                state.pingSentAt = now
                state.pongSincePing = false
                return .ping
            }
        }
    }

    /// Ends the connection with a protocol disconnect code. Returns false when already closing.
    @discardableResult
    func disconnect(_ reason: Disconnect, dropPending: Bool) -> Bool {
        let first = state.withLock { state -> Bool in
            guard state.disconnect == nil else { return false }
            state.disconnect = reason
            state.phase = .closed
            return true
        }
        if first { queue.close(dropPending: dropPending) }
        return first
    }

    /// The client went away (or the reader ended).
    func finished() {
        state.withLock { $0.phase = .closed }
        queue.close(dropPending: true)
    }
}
