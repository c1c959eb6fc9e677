import Synchronization

/// A connection's bounded send queue. Deliveries never wait for a client: they append here and
/// the connection's writer task drains everything queued into one WebSocket frame (replies and
/// pushes separated by newlines, as the protocol allows). Frames with a conflation key replace an
/// unsent frame with the same key (the newest position wins). Past `maxBytes` the queue refuses
/// the frame and the connection is disconnected as a slow consumer.
final class SendQueue: Sendable {
    enum Result { case queued, overflow, closed }

    private struct State {
        var frames: [String] = []
        var bytes = 0
        var conflated: [String: Int] = [:]
        var waiter: CheckedContinuation<[String]?, Never>?
        var closed = false
    }

    private let state = Mutex(State())
    let maxBytes: Int

    init(maxBytes: Int) { self.maxBytes = maxBytes }

    var depth: Int { state.withLock { $0.frames.count } }

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
            if state.bytes + size > maxBytes { return (.overflow, nil) }
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
                    let frames = state.frames
                    state.frames = []
                    state.bytes = 0
                    state.conflated = [:]
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
