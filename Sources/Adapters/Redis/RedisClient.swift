import Foundation
import Logging
import NIOPosix
import Synchronization

public struct RedisConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Connections kept open; also the number of threads that run blocking hiredis calls.
    public var poolSize: Int
    /// Connect and command timeout.
    public var timeout: Duration
    /// Given to every connection (`CLIENT SETNAME`), so `CLIENT LIST` tells whose it is.
    public var clientName: String?

    public init(host: String = "127.0.0.1", port: Int = 6379, poolSize: Int = 4, timeout: Duration = .seconds(2), clientName: String? = nil) {
        self.host = host
        self.port = port
        self.poolSize = poolSize
        self.timeout = timeout
        self.clientName = clientName
    }
}

/// A pooled Redis client over hiredis. hiredis is blocking, so every command runs on a thread of
/// a private pool, never on the cooperative pool or an event loop.
///
/// Reconnection: a broken connection is dropped from the pool; the next command opens a new one.
/// A command that fails on a connection taken idle from the pool is retried once on a fresh
/// connection — after a server restart the old socket fails before the command reaches the new
/// server, so the retry cannot apply a command twice.
public final class RedisClient: Sendable {
    public let configuration: RedisConfiguration
    private let threads: NIOThreadPool
    private let idle = Mutex<[RedisConnection]>([])
    private let closed = Atomic<Bool>(false)
    /// Listening subscriptions, ended at shutdown (their threads would otherwise outlive the client).
    private let listeners = Mutex<[RedisSubscription]>([])
    let logger: Logger

    public init(configuration: RedisConfiguration = .init(), logger: Logger = Logger(label: "redis")) {
        self.configuration = configuration
        self.logger = logger
        threads = NIOThreadPool(numberOfThreads: max(1, configuration.poolSize))
        threads.start()
    }

    /// Closes every pooled connection and stops the threads.
    public func shutdown() async {
        guard !closed.exchange(true, ordering: .acquiringAndReleasing) else { return }
        idle.withLock { $0.removeAll() }
        listeners.withLock { listening in
            listening.forEach { $0.cancel() }
            listening.removeAll()
        }
        try? await threads.shutdownGracefully()
    }

    /// Runs one command.
    @discardableResult
    public func send(_ arguments: [any RedisArgument]) async throws -> RedisValue {
        let reply = try await run { connection in try connection.command(arguments.map(\.redisBytes)) }
        if case .error(let message) = reply { throw RedisError.server(message) }
        return reply
    }

    @discardableResult
    public func send(_ arguments: any RedisArgument...) async throws -> RedisValue { try await send(arguments) }

    /// Runs several commands in one round trip. Error replies come back as `.error` values in
    /// their place, so one failed command does not hide the others' results.
    public func pipeline(_ commands: [[any RedisArgument]]) async throws -> [RedisValue] {
        let raw = commands.map { $0.map(\.redisBytes) }
        return try await run { connection in try connection.pipeline(raw) }
    }

    /// Opens a dedicated connection that receives messages published on `channels`.
    public func subscribe(_ channels: [String]) throws -> RedisSubscription {
        try RedisSubscription(configuration: configuration, channels: channels, logger: logger)
    }

    /// Subscribes to `channels` on a connection and thread of its own and tells `listener` of
    /// every message and every gap, on that thread, until `cancel()` or this client's shutdown.
    public func listen(_ channels: [String], listener: some RedisSubscriptionListener) -> RedisSubscription {
        let subscription = RedisSubscription(configuration: configuration, channels: channels, listener: listener, logger: logger)
        let alreadyClosed = listeners.withLock { listening in
            listening.append(subscription)
            return closed.load(ordering: .acquiring)
        }
        if alreadyClosed { subscription.cancel() }
        return subscription
    }

    private func run<T: Sendable>(_ body: @escaping @Sendable (RedisConnection) throws -> T) async throws -> T {
        guard !closed.load(ordering: .acquiring) else { throw RedisError.closed }
        return try await threads.runIfActive { [self] in
            let (connection, reused) = try self.checkout()
            do {
                let result = try body(connection)
                self.checkin(connection)
                return result
            } catch RedisError.connection(let message) where reused {
                self.logger.info("redis connection lost (\(message)); reconnecting")
                self.idle.withLock { $0.removeAll() }  // the rest are stale too
                let fresh = try self.connect()
                let result = try body(fresh)
                self.checkin(fresh)
                return result
            }
        }
    }

    private func checkout() throws -> (RedisConnection, reused: Bool) {
        if let connection = idle.withLock({ $0.popLast() }) { return (connection, true) }
        return (try connect(), false)
    }

    private func connect() throws -> RedisConnection {
        try RedisConnection(configuration)
    }

    private func checkin(_ connection: RedisConnection) {
        guard !connection.broken, !closed.load(ordering: .acquiring) else { return }
        idle.withLock { pool in
            if pool.count < configuration.poolSize { pool.append(connection) }
        }
    }
}
