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
    /// (`LocalIdentityCache.noticeChannel`), and this returns once each of them acknowledged it,
    /// or at `deadline` (the cache's age after the session was deleted: no cache can believe in
    /// the session after that, acknowledged or not).
    func publish(_ revocation: SessionRevocation, notifying cache: LocalIdentityCache? = nil, until deadline: ContinuousClock.Instant = .now) async {
        guard let payload = try? JSONEncoder().encode(revocation) else { return }
        let text = String(decoding: payload, as: UTF8.self)
        guard let cache else {
            // No cache here to wait with; other processes' caches still hear of it at once.
            let notice = (try? JSONEncoder().encode(LocalIdentityCache.Notice(id: UUID().uuidString, revocation: revocation)))
                .map { String(decoding: $0, as: UTF8.self) } ?? ""
            do { _ = try await redis.pipeline([["PUBLISH", Self.channel, text], ["PUBLISH", LocalIdentityCache.noticeChannel, notice]]) } catch {
                logger.warning("revocation not published: \(error)", metadata: ["user": "\(revocation.userID)"])
            }
            return
        }
        await notifyCaches(LocalIdentityCache.Notice(id: UUID().uuidString, revocation: revocation), cache: cache, until: deadline,
                           alsoPublishing: [["PUBLISH", Self.channel, text]], user: revocation.userID)
    }

    /// Tells every process's cache that `userID`'s view changed; returns once all acknowledged, or at `deadline`.
    func announceViewChange(_ userID: String, cache: LocalIdentityCache, until deadline: ContinuousClock.Instant) async {
        await notifyCaches(LocalIdentityCache.Notice(id: UUID().uuidString, viewChanged: userID), cache: cache, until: deadline,
                           alsoPublishing: [], user: userID)
    }

    private func notifyCaches(_ notice: LocalIdentityCache.Notice, cache: LocalIdentityCache, until deadline: ContinuousClock.Instant,
                              alsoPublishing others: [[any RedisArgument]], user: String) async {
        let payload = (try? JSONEncoder().encode(notice)).map { String(decoding: $0, as: UTF8.self) } ?? ""
        cache.acknowledgements.expect(notice.id)
        var caches = Int.max  // unknown: wait until the deadline
        do {
            let replies = try await redis.pipeline([["PUBLISH", LocalIdentityCache.noticeChannel, payload]] + others)
            if let count = replies.first?.int { caches = count }
        } catch {
            logger.warning("cache notice not published: \(error); waiting out the cache's age", metadata: ["user": "\(user)"])
        }
        let started = ContinuousClock.now
        await cache.acknowledgements.wait(notice.id, expected: caches, until: deadline)
        if ContinuousClock.now >= deadline {
            logger.info("cache notice not acknowledged by every process; answered after the cache's age",
                        metadata: ["user": "\(user)", "waited": "\(ContinuousClock.now - started)"])
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
