import Foundation
import Synchronization

/// Runs a blocking call (librdkafka admin requests, flush) on a thread of its own, so that it
/// never occupies a thread of Swift's cooperative pool or a NIO event loop.
func onDedicatedThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            setCurrentThreadName(name)
            continuation.resume(with: Result { try body() })
        }
        thread.name = name
        thread.start()
    }
}

/// A long-lived loop (a poll loop) on its own thread; `finished` resumes once the loop returned.
final class LoopThread: Sendable {
    private let done = OneShotSignal()

    init(name: String, _ loop: @escaping @Sendable () -> Void) {
        let done = self.done
        let thread = Thread {
            setCurrentThreadName(name)
            loop()
            done.finish()
        }
        thread.name = name
        thread.stackSize = 1 << 20
        thread.start()
    }

    /// Waits until the loop has returned.
    func join() async { await done.wait() }
}

/// A one-shot signal that any number of tasks may await. Deliberately deaf to task
/// cancellation: `close()` runs in cancelled tasks during shutdown, and returning before the
/// poll thread has destroyed the handle let a consumer outlive its owner (librdkafka then
/// crashed on the metadata of topics deleted meanwhile).
final class OneShotSignal: Sendable {
    private let state = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func finish() {
        let waiters = state.withLock { state in
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { state in
                if state.done { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}

/// A shareable boolean (Atomic itself cannot be captured by escaping closures).
final class AtomicFlag: Sendable {
    private let value: Atomic<Bool>
    init(_ initial: Bool) { value = Atomic(initial) }
    var isSet: Bool { value.load(ordering: .acquiring) }
    func set() { value.store(true, ordering: .releasing) }
    func clear() { value.store(false, ordering: .releasing) }
}

/// Names the calling thread as `top`, `perf` and gdb show it (Linux keeps 15 characters).
/// Foundation applies a name only when the thread sets its own.
func setCurrentThreadName(_ name: String) {
    Thread.current.name = String(name.prefix(15))
}
