import Foundation
import Logging
import MarketplaceContracts
import MarketplaceRedis

/// Revocations over Redis pub/sub (`session-revocations`): `SessionStore` publishes one after it
/// deleted the session, every gateway node follows them. Pub/sub delivers to those connected at
/// the moment, which is what a live connection needs; a node that was away re-checks sessions at
/// connect and refresh anyway.
public struct RedisSessionRevocations: SessionRevocationFeed {
    static let channel = "session-revocations"

    let redis: RedisClient
    let logger: Logger

    public init(redis: RedisClient, logger: Logger = Logger(label: "identity.revocations")) {
        self.redis = redis
        self.logger = logger
    }

    /// Best effort after the session is gone: a lost message leaves a connection open until its
    /// token expires (the behaviour without this feed), never a session alive.
    ///
    /// With this process's session `cache`, the revocation also goes to every process's cache
    /// (`ActiveSessionCache.noticeChannel`), and this returns once each of them acknowledged it,
    /// or at `deadline` (the cache's age after the session was deleted: no cache can believe in
    /// the session after that, acknowledged or not).
    func publish(_ revocation: SessionRevocation, notifying cache: ActiveSessionCache? = nil, until deadline: ContinuousClock.Instant = .now) async {
        guard let payload = try? JSONEncoder().encode(revocation) else { return }
        let text = String(decoding: payload, as: UTF8.self)
        guard let cache else {
            do { _ = try await redis.publish(Self.channel, text) } catch {
                logger.warning("revocation not published: \(error)", metadata: ["user": "\(revocation.userID)"])
            }
            return
        }
        let id = UUID().uuidString
        let notice = (try? JSONEncoder().encode(ActiveSessionCache.Notice(id: id, revocation: revocation))).map { String(decoding: $0, as: UTF8.self) } ?? ""
        cache.acknowledgements.expect(id)
        var caches = Int.max  // unknown: wait until the deadline
        do {
            let replies = try await redis.pipeline([["PUBLISH", ActiveSessionCache.noticeChannel, notice], ["PUBLISH", Self.channel, text]])
            if let count = replies.first?.int { caches = count }
        } catch {
            logger.warning("revocation not published: \(error); waiting out the session cache's age", metadata: ["user": "\(revocation.userID)"])
        }
        let started = ContinuousClock.now
        await cache.acknowledgements.wait(id, expected: caches, until: deadline)
        if ContinuousClock.now >= deadline {
            logger.info("revocation not acknowledged by every session cache; answered after the cache's age",
                        metadata: ["user": "\(revocation.userID)", "waited": "\(ContinuousClock.now - started)"])
        }
    }

    public func follow(_ handle: @escaping @Sendable (SessionRevocation) -> Void) async throws {
        // SUBSCRIBE connects with a blocking hiredis call: on a thread of its own, not the pool.
        let subscription = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<RedisSubscription, any Error>) in
            Thread { [redis] in continuation.resume(with: Result { try redis.subscribe([Self.channel]) }) }.start()
        }
        await subscription.waitUntilSubscribed()
        await withTaskCancellationHandler {
            for await message in subscription {
                guard let revocation = try? JSONDecoder().decode(SessionRevocation.self, from: Data(message.payload)) else {
                    logger.warning("unreadable revocation: \(message.text)")
                    continue
                }
                handle(revocation)
            }
        } onCancel: {
            subscription.cancel()
        }
    }
}
