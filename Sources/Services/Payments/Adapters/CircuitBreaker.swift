import Foundation
import Synchronization

/// Stops calling a dependency that keeps failing: after `failureThreshold` failures in a row it
/// opens (calls fail at once, without waiting for timeouts); after `openFor` it lets one probe
/// through (half-open); the probe's success closes it, its failure opens it again.
public final class CircuitBreaker: Sendable {
    public enum State: String, Sendable { case closed, open, halfOpen = "half_open" }

    private struct Inner {
        var state: State = .closed
        var failures = 0
        var openedAt: ContinuousClock.Instant?
        var probing = false
    }

    public let failureThreshold: Int
    public let openFor: Duration
    private let inner = Mutex(Inner())
    private let onChange: @Sendable (State) -> Void

    public init(failureThreshold: Int = 5, openFor: Duration = .seconds(30), onChange: @escaping @Sendable (State) -> Void = { _ in }) {
        self.failureThreshold = failureThreshold
        self.openFor = openFor
        self.onChange = onChange
    }

    public var state: State {
        inner.withLock { inner in
            if inner.state == .open, let openedAt = inner.openedAt, ContinuousClock.now - openedAt >= openFor { return .halfOpen }
            return inner.state
        }
    }

    /// Whether a call may go ahead now; a half-open breaker lets exactly one through.
    public func allow() -> Bool {
        let (allowed, changed) = inner.withLock { inner -> (Bool, State?) in
            switch inner.state {
            case .closed: return (true, nil)
            case .halfOpen: return inner.probing ? (false, nil) : { inner.probing = true; return (true, nil) }()
            case .open:
                guard let openedAt = inner.openedAt, ContinuousClock.now - openedAt >= openFor else { return (false, nil) }
                inner.state = .halfOpen
                inner.probing = true
                return (true, .halfOpen)
            }
        }
        if let changed { onChange(changed) }
        return allowed
    }

    public func succeeded() {
        let changed = inner.withLock { inner -> State? in
            defer { inner.failures = 0; inner.probing = false; inner.state = .closed; inner.openedAt = nil }
            return inner.state == .closed ? nil : .closed
        }
        if let changed { onChange(changed) }
    }

    public func failed() {
        let changed = inner.withLock { inner -> State? in
            inner.failures += 1
            inner.probing = false
            if inner.state == .halfOpen || (inner.state == .closed && inner.failures >= failureThreshold) {
                inner.state = .open
                inner.openedAt = .now
                return .open
            }
            return nil
        }
        if let changed { onChange(changed) }
    }
}
