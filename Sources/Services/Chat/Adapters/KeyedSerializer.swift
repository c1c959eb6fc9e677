import Foundation
import Synchronization

/// Runs work for one key at a time, in arrival order, and work for different keys in parallel.
/// Sends to one conversation all change its document: serialised in the process, they do not
/// abort each other's transactions (other instances still can; the transaction retries that).
final class KeyedSerializer: Sendable {
    private struct Tail { var id: UUID; var done: Task<Void, Never> }
    private let tails = Mutex<[String: Tail]>([:])

    func run<T: Sendable>(_ key: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let id = UUID()
        let work: Task<T, any Error> = tails.withLock { tails in
            let previous = tails[key]?.done
            let work = Task { () async throws -> T in
                await previous?.value
                return try await body()
            }
            tails[key] = Tail(id: id, done: Task { _ = try? await work.value })
            return work
        }
        defer { tails.withLock { tails in if tails[key]?.id == id { tails[key] = nil } } }
        return try await work.value
    }
}
