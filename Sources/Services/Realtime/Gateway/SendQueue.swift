import Synchronization

/// A connection's bounded send queue. Deliveries never wait for a client: they append here and
/// the connection's writer task drains everything queued into one WebSocket frame (replies and
/// pushes separated by newlines, as the protocol allows). Frames with a conflation key replace an
/// unsent frame with the same key (the newest position wins).
///
/// Bursts are fine: a queue may exceed `maxBytes` for up to `slowAfter`. A client that stays
/// above it longer (it is not keeping up), or whose queue reaches `hardLimitBytes` (memory is
/// bounded whatever happens), is refused and disconnected as a slow consumer.
final class SendQueue: Sendable {
    enum Result { case queued, overflow, closed }

    private struct State {
        var frames: [String] = []
        var bytes = 0
        var conflated: [String: Int] = [:]
        var waiter: CheckedContinuation<[String]?, Never>?
        var closed = false
        var overSince: ContinuousClock.Instant?
    }

    private let state = Mutex(State())
    static let maxMessageBytes = 64 * 1024
    let maxBytes: Int
    let hardLimitBytes: Int
    let slowAfter: Duration

    init(maxBytes: Int, slowAfter: Duration = .seconds(3)) {
        self.maxBytes = maxBytes
        self.hardLimitBytes = maxBytes * 8
        self.slowAfter = slowAfter
    }

    var depth: Int { state.withLock { $0.frames.count } }

    /// Over the soft limit for longer than allowed (checked by the node's housekeeping too, for
    /// a client that stalls while nothing new is queued for it).
    var isSlow: Bool {
        state.withLock { state in state.overSince.map { ContinuousClock.now - $0 > slowAfter } ?? false }
    }

    func push(_ frame: String, conflationKey: String? = nil) -> Result {
        let size = frame.utf8.count
        let (result, waiter): (Result, CheckedContinuation<[String]?, Never>?) = state.withLock { state in
            if state.closed { return (.closed, nil) }
            if let key = conflationKey, let index = state.conflated[key] {
                state.bytes += size - state.frames[index].utf8.count
                state.frames[index] = frame
                return (.queued, nil)
            }
            if let waiter = state.waiter {  // the writer is idle: hand the frame over directly
                state.waiter = nil
                return (.queued, waiter)
            }
            if state.bytes + size > hardLimitBytes { return (.overflow, nil) }
            if state.bytes + size > maxBytes {
                let now = ContinuousClock.now
                if let since = state.overSince, now - since > slowAfter { return (.overflow, nil) }
                if state.overSince == nil { state.overSince = now }
            }
            state.frames.append(frame)
            state.bytes += size
            if let key = conflationKey { state.conflated[key] = state.frames.count - 1 }
            return (.queued, nil)
        }
        waiter?.resume(returning: [frame])
        return result
    }

    /// Everything queued, waiting when nothing is; nil once closed.
    func next() async -> [String]? {
        await withCheckedContinuation { (continuation: CheckedContinuation<[String]?, Never>) in
            let ready: [String]?? = state.withLock { state in
                if !state.frames.isEmpty {
                    // At most ~64 KiB per WebSocket message (clients cap message sizes too).
                    var count = 0, bytes = 0
                    while count < state.frames.count && (count == 0 || bytes + state.frames[count].utf8.count <= Self.maxMessageBytes) {
                        bytes += state.frames[count].utf8.count
                        count += 1
                    }
                    let frames = Array(state.frames[..<count])
                    state.frames.removeFirst(count)
                    state.bytes -= bytes
                    state.conflated = state.conflated.compactMapValues { $0 >= count ? $0 - count : nil }
                    if state.bytes <= maxBytes { state.overSince = nil }  // back under the limit: keeping up
                    return .some(frames)
                }
                if state.closed { return .some(nil) }
                state.waiter = continuation
                return .none
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Stops the queue; `dropPending` discards what was not sent (a disconnect that must not wait).
    func close(dropPending: Bool) {
        let waiter = state.withLock { state -> CheckedContinuation<[String]?, Never>? in
            state.closed = true
            if dropPending {
                state.frames = []
                state.bytes = 0
                state.conflated = [:]
            }
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }
}

/// The send queue, for tests of its rules (the queue itself stays internal).
public struct SendQueueProbe: Sendable {
    let queue: SendQueue
    public init(maxBytes: Int, slowAfter: Duration = .seconds(3)) { queue = SendQueue(maxBytes: maxBytes, slowAfter: slowAfter) }
    public var isSlow: Bool { queue.isSlow }
    public func push(_ frame: String, key: String?) -> Bool { queue.push(frame, conflationKey: key) == .queued }
    public func next() async -> [String]? { await queue.next() }
}
