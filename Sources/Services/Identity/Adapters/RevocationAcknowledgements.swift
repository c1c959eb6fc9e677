import Foundation
import Synchronization

/// The acknowledgements of one process's revocations: every process whose session cache follows
/// the feed answers each revocation once it has forgotten the session, and the revoking request
/// is answered only when all of them have (`RedisSessionRevocations.publish`), so a revoked token
/// is refused on the very next request on any node, not only on the one that revoked it.
///
/// Acknowledgements travel on a channel every process hears; ids this process is not waiting for
/// are ignored.
final class RevocationAcknowledgements: Sendable {
    private struct Pending {
        var received = 0
        var expected: Int?
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let pending = Mutex<[String: Pending]>([:])

    /// Registers a revocation before it is published (an acknowledgement can beat the reply to PUBLISH).
    func expect(_ id: String) {
        pending.withLock { $0[id] = Pending() }
    }

    /// An acknowledgement from a process (the feed's reading thread).
    func received(_ id: String) {
        let done: CheckedContinuation<Void, Never>? = pending.withLock { pending in
            guard var entry = pending[id] else { return nil }
            entry.received += 1
            if let expected = entry.expected, entry.received >= expected, let waiter = entry.waiter {
                pending[id] = nil
                return waiter
            }
            pending[id] = entry
            return nil
        }
        done?.resume()
    }

    /// Returns once `expected` processes acknowledged `id`, or at `deadline` (a process that does not
    /// answer has stopped believing the session by then anyway), and forgets `id`.
    func wait(_ id: String, expected: Int, until deadline: ContinuousClock.Instant) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.arrival(id, expected: expected) }
            group.addTask { try? await Task.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
        pending.withLock { $0[id] = nil }
    }

    private func arrival(_ id: String, expected: Int) async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let now: Bool = pending.withLock { pending in
                    guard var entry = pending[id], !Task.isCancelled else { return true }
                    if entry.received >= expected { pending[id] = nil; return true }
                    entry.expected = expected
                    entry.waiter = continuation
                    pending[id] = entry
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = pending.withLock { pending -> CheckedContinuation<Void, Never>? in
                guard let waiter = pending[id]?.waiter else { return nil }
                pending[id] = nil
                return waiter
            }
            waiter?.resume()
        }
    }
}
