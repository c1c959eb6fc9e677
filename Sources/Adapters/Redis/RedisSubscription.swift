import Foundation
import Logging
import Synchronization

/// A message received on a subscribed channel.
public struct RedisPubSubMessage: Sendable, Hashable {
    public var channel: String
    public var payload: [UInt8]
    public var text: String { String(decoding: payload, as: UTF8.self) }
}

/// Told of a subscription's messages and of its gaps, on the subscription's reading thread, in
/// the order they happen. For state that must never miss a message unnoticed (a cache kept
/// current by invalidations): `lost()` comes before anything published while the connection was
/// down could have been missed, `subscribed()` once messages arrive again. Keep each call short
/// and never block: it holds up the next message.
public protocol RedisSubscriptionListener: Sendable {
    /// The SUBSCRIBE was acknowledged: everything published from now on is received.
    func subscribed()
    /// The connection broke (or could not be made): messages are missed until `subscribed()`.
    func lost()
    func received(_ message: RedisPubSubMessage)
}

/// A SUBSCRIBE on its own connection, read by its own thread. When the connection breaks (a
/// server restart) it reconnects with backoff and subscribes again; messages published while it
/// was away are lost, as with any Redis pub/sub client. Read as an AsyncSequence
/// (`RedisClient.subscribe`), or by a listener called on the reading thread (`RedisClient.listen`).
public final class RedisSubscription: AsyncSequence, Sendable {
    public typealias Element = RedisPubSubMessage
    private let stream: AsyncStream<RedisPubSubMessage>
    private let stopped = Atomic<Bool>(false)
    private let current = Mutex<RedisConnection?>(nil)
    private let ready = Mutex<[CheckedContinuation<Void, Never>]?>([])

    /// Where messages and gaps go.
    private enum Sink: Sendable {
        case stream(AsyncStream<RedisPubSubMessage>.Continuation)
        case listener(any RedisSubscriptionListener)

        func subscribed() { if case .listener(let listener) = self { listener.subscribed() } }
        func lost() { if case .listener(let listener) = self { listener.lost() } }
        func received(_ message: RedisPubSubMessage) {
            switch self {
            case .stream(let continuation): continuation.yield(message)
            case .listener(let listener): listener.received(message)
            }
        }
        func finish() { if case .stream(let continuation) = self { continuation.finish() } }
    }

    /// Messages as an AsyncSequence. Connects once synchronously so that a wrong address fails
    /// here, not silently later.
    init(configuration: RedisConfiguration, channels: [String], logger: Logger) throws {
        let (stream, continuation) = AsyncStream.makeStream(of: RedisPubSubMessage.self, bufferingPolicy: .bufferingNewest(10_000))
        self.stream = stream
        let first = try RedisConnection(configuration)
        startReading(configuration: configuration, channels: channels, first: first, sink: .stream(continuation), logger: logger)
    }

    /// Messages and gaps to `listener`; connecting happens on the reading thread (a server that
    /// is down is a `lost()` and retries, never an error here).
    init(configuration: RedisConfiguration, channels: [String], listener: any RedisSubscriptionListener, logger: Logger) {
        stream = AsyncStream { $0.finish() }
        startReading(configuration: configuration, channels: channels, first: nil, sink: .listener(listener), logger: logger)
    }

    private func startReading(configuration: RedisConfiguration, channels: [String], first: RedisConnection?, sink: Sink, logger: Logger) {
        let box = UncheckedBox(first)
        let thread = Thread { [self] in
            Thread.current.name = "redis-subscribe"  // applied only when set from the thread itself
            var connection: RedisConnection? = box.value
            var backoff = 0.05
            while !stopped.load(ordering: .acquiring) {
                do {
                    let active = try connection ?? RedisConnection(configuration)
                    connection = nil
                    current.withLock { $0 = active }
                    if stopped.load(ordering: .acquiring) { break }
                    _ = try active.pipeline([["SUBSCRIBE".redisBytes] + channels.map(\.redisBytes)])
                    for _ in 1..<Swift.max(channels.count, 1) { _ = try active.readReply() }
                    active.setReadTimeout(.zero)
                    sink.subscribed()
                    markReady()
                    backoff = 0.05
                    while !stopped.load(ordering: .acquiring) {
                        let reply = try active.readReply()
                        guard let parts = reply.array, parts.count == 3, parts[0].string == "message",
                              case .bulk(let payload) = parts[2], let channel = parts[1].string else { continue }
                        sink.received(RedisPubSubMessage(channel: channel, payload: payload))
                    }
                } catch {
                    current.withLock { $0 = nil }
                    sink.lost()
                    if stopped.load(ordering: .acquiring) { break }
                    logger.info("redis subscription lost: \(error); retrying in \(backoff)s")
                    Thread.sleep(forTimeInterval: backoff)
                    backoff = Swift.min(backoff * 2, 2)
                }
            }
            markReady()
            sink.finish()
        }
        thread.name = "redis-subscribe"
        thread.start()
    }

    /// Waits until the SUBSCRIBE was acknowledged (messages published after this are received).
    public func waitUntilSubscribed() async {
        await withCheckedContinuation { continuation in
            let isReady = ready.withLock { waiters -> Bool in
                guard waiters != nil else { return true }
                waiters!.append(continuation)
                return false
            }
            if isReady { continuation.resume() }
        }
    }

    private func markReady() {
        let waiters = ready.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            defer { waiters = nil }
            return waiters ?? []
        }
        waiters.forEach { $0.resume() }
    }

    /// Ends the subscription and closes its connection.
    public func cancel() {
        stopped.store(true, ordering: .releasing)
        current.withLock { $0?.interrupt() }
    }

    public func makeAsyncIterator() -> AsyncStream<RedisPubSubMessage>.Iterator { stream.makeAsyncIterator() }
}

struct UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
