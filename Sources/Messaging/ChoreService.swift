import Logging
import ServiceLifecycle

/// A worker that is only periodic chores (no topic to consume): each runs, sleeps its interval
/// and runs again until graceful shutdown (a round in progress finishes); a failure is logged and the next round runs as planned.
public struct ChoreService: Service {
    public let chores: [PeriodicChore]
    let logger: Logger

    public init(_ chores: [PeriodicChore], logger: Logger) {
        self.chores = chores
        self.logger = logger
    }

    public func run() async throws {
        let logger = logger
        await withTaskGroup(of: Void.self) { group in
            for chore in chores {
                group.addTask { await chore.repeatUntilShutdown(logger: logger) }
            }
        }
    }
}
