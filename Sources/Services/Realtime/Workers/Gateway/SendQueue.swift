import MarketplaceContracts
import Synchronization

/// A connection's bounded send queue. Deliveries never wait for a client: they append here, and
/// the connection's event loop takes what is queued (`take`) and writes it as one WebSocket
/// message (replies and pushes separated by newlines, as the protocol allows) whenever the socket
/// accepts more. Frames with a conflation key replace an unsent frame with the same key (the
/// newest position wins): a client that falls behind gets the latest position, not a backlog.
///
/// Bursts are fine: a queue may exceed `maxBytes` for up to `slowAfter`. A client that stays
/// above it longer (it is not keeping up), or whose queue reaches `hardLimitBytes` (memory is
/// bounded whatever happens), is refused and disconnected as a slow consumer.
///
/// `wake` is called when the queue goes from nothing-to-do to something-to-do (a frame, or the
/// close): the transport then schedules one drain on the connection's event loop, however many
/// frames arrive before it runs.
final class SendQueue: Sendable {
    enum Result { case queued, overflow, closed }
    /// What the transport should do next.
    enum Next: Equatable { case frames([String]), blocked, idle, finished }

    private struct State {
        var frames: [String] = []
        var bytes = 0
        var conflated: [String: Int] = [:]
        var closed = false
        /// A drain is scheduled or running: pushes need not wake the transport again.
        var awake = false
        var overSince: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    static let maxMessageBytes = 64 * 1024
    let maxBytes: Int
    let hardLimitBytes: Int
    let slowAfter: Duration
    private let wake: @Sendable () -> Void

    init(maxBytes: Int, slowAfter: Duration = .seconds(3), wake: @escaping @Sendable () -> Void) {
        self.maxBytes = maxBytes
        self.hardLimitBytes = maxBytes * 8
        self.slowAfter = slowAfter
        self.wake = wake
    }

    var depth: Int { state.withLock { $0.frames.count } }

    /// Over the soft limit for longer than allowed (checked by the node's housekeeping too, for
    /// a client that stalls while nothing new is queued for it).
    var isSlow: Bool {
        state.withLock { state in state.overSince.map { ContinuousClock.now - $0 > slowAfter } ?? false }
    }

    func push(_ frame: String, conflationKey: String? = nil) -> Result {
        let (result, wakeUp) = state.withLock { state in append(frame, conflationKey: conflationKey, to: &state) }
        if wakeUp { wake() }
        return result
    }

    /// Several frames under one lock (a run of publications); stops at the first refused.
    func push(contentsOf frames: some Sequence<String>) -> Result {
        let (result, wakeUp) = state.withLock { state -> (Result, Bool) in
            var outcome: (Result, Bool) = (.queued, false)
            for frame in frames {
                let (result, wakeUp) = append(frame, conflationKey: nil, to: &state)
                outcome = (result, outcome.1 || wakeUp)
                if result != .queued { break }
            }
            return outcome
        }
        if wakeUp { wake() }
        return result
    }

    /// Returns the result and whether the transport must be woken.
    private func append(_ frame: String, conflationKey: String?, to state: inout State) -> (Result, Bool) {
        if state.closed { return (.closed, false) }
        let size = frame.utf8.count
        if let key = conflationKey, let index = state.conflated[key] {
            state.bytes += size - state.frames[index].utf8.count
            state.frames[index] = frame
            return (.queued, false)
        }
        if state.bytes + size > hardLimitBytes { return (.overflow, false) }
        if state.bytes + size > maxBytes {
            let now = ContinuousClock.now
            if let since = state.overSince, now - since > slowAfter { return (.overflow, false) }
            if state.overSince == nil { state.overSince = now }
        }
        state.frames.append(frame)
        state.bytes += size
        if let key = conflationKey { state.conflated[key] = state.frames.count - 1 }
        defer { state.awake = true }
        return (.queued, !state.awake)
    }

    /// The next message's worth of frames (at most ~64 KiB: clients cap message sizes too) when
    /// the socket is `writable`; `.blocked` when it is not (the transport drains again once it
    /// is); `.idle` when nothing is queued; `.finished` once closed and drained.
    func take(writable: Bool) -> Next {
        state.withLock { state in
            if state.frames.isEmpty {
                state.awake = false
                return state.closed ? .finished : .idle
            }
            guard writable else { return .blocked }
            var count = 0, bytes = 0
            while count < state.frames.count && (count == 0 || bytes + state.frames[count].utf8.count <= Self.maxMessageBytes) {
                bytes += state.frames[count].utf8.count
                count += 1
            }
            let frames = Array(state.frames[..<count])
            state.frames.removeFirst(count)
            state.bytes -= bytes
            if !state.conflated.isEmpty { state.conflated = state.conflated.compactMapValues { $0 >= count ? $0 - count : nil } }
            if state.bytes <= maxBytes { state.overSince = nil }  // back under the limit: keeping up
            return .frames(frames)
        }
    }

    /// Stops the queue; `dropPending` discards what was not sent (a disconnect that must not
    /// wait). The transport is woken to send what remains and the close.
    func close(dropPending: Bool) {
        let wakeUp = state.withLock { state -> Bool in
            guard !state.closed || dropPending else { return false }
            state.closed = true
            if dropPending {
                state.frames = []
                state.bytes = 0
                state.conflated = [:]
            }
            // A drain blocked on a stalled socket must still hear of a close that dropped the backlog.
            defer { state.awake = true }
            return !state.awake || dropPending
        }
        if wakeUp { wake() }
    }
}

/// The send queue, for tests of its rules (the queue itself stays internal).
public struct SendQueueProbe: Sendable {
    let queue: SendQueue
    public init(maxBytes: Int, slowAfter: Duration = .seconds(3)) { queue = SendQueue(maxBytes: maxBytes, slowAfter: slowAfter, wake: {}) }
    public var isSlow: Bool { queue.isSlow }
    public func push(_ frame: String, key: String?) -> Bool { queue.push(frame, conflationKey: key) == .queued }
    /// What the transport would write next (nil when nothing is queued).
    public func next() -> [String]? { if case .frames(let frames) = queue.take(writable: true) { frames } else { nil } }
}
