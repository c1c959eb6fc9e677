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
    func publish(_ revocation: SessionRevocation) async {
        guard let payload = try? JSONEncoder().encode(revocation) else { return }
        do { _ = try await redis.publish(Self.channel, String(decoding: payload, as: UTF8.self)) } catch {
            logger.warning("revocation not published: \(error)", metadata: ["user": "\(revocation.userID)"])
        }
    }

    public func follow(_ handle: @escaping @Sendable (SessionRevocation) -> Void) async throws {
        // SUBSCRIBE connects with a blocking hiredis call: on a thread of its own, not the pool.
        let subscription = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<RedisSubscription, any Error>) in
            Thread { [redis] in continuation.resume(with: Result { try redis.subscribe([Self.channel]) }) }.start()
        }
        await subscription.waitUntilSubscribed()
        try await withTaskCancellationHandler {
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
