import Foundation
import MarketplaceContracts

/// The senders: each channel's worker takes the `notification.requested` events of its channel,
/// claims the delivery record (a redelivered request whose send completed is skipped), drops
/// what went stale, and sends — transient failures retried with exponential backoff and jitter,
/// then given up (`dead`, dead-lettered by the platform); permanent ones recorded, not retried.
extension NotificationService {
    /// The attempts of a send ran out: thrown (again on every redelivery) so that the platform
    /// dead-letters the request.
    public struct DeliveryAbandoned: Error, CustomStringConvertible {
        public var deliveryID: String
        public var lastError: String
        public var description: String { "delivery \(deliveryID) abandoned after its attempts: \(lastError)" }
    }

    public func deliver(_ event: EventEnvelope, channel: NotificationChannel) async throws {
        guard event.type == NotificationEvents.requested else { return }
        let request = try event.decode(SendRequest.self)
        guard request.channel == channel else { return }
        let metrics = self.metrics[channel]
        guard var claimed = try await deliveries.claim(request.deliveryId, now: Date()) else {
            let existing = try await deliveries.find(request.deliveryId)
            if existing?.status == .dead { throw DeliveryAbandoned(deliveryID: request.deliveryId, lastError: existing?.lastError ?? "") }
            metrics.duplicates.increment()
            return
        }
        guard let sender = senders[channel] else {
            try await finish(request, .skipped, error: "the \(channel.rawValue) channel is not configured", attempts: claimed.attempts)
            return
        }
        if let expiresAt = request.expiresAt, Date() > expiresAt {
            try await finish(request, .skipped, error: "expired before it could be sent", attempts: claimed.attempts)
            return
        }
        if channel == .push, request.kind.category == .jobs, let jobID = request.jobId, try await isSuperseded(request, jobID: jobID) {
            try await finish(request, .skipped, error: "superseded by a newer update of the job", attempts: claimed.attempts)
            return
        }
        var backoff = settings.initialBackoff
        while true {
            do {
                switch try await sender.send(request) {
                case .sent(let messageID):
                    metrics.latency.recordNanoseconds(Int64(max(0, Date().timeIntervalSince(request.eventTime)) * 1e9))
                    try await finish(request, .sent, providerMessageID: messageID, attempts: claimed.attempts)
                case .skipped(let reason):
                    try await finish(request, .skipped, error: reason, attempts: claimed.attempts)
                }
                return
            } catch where error.isTransientFailure {
                guard claimed.attempts < settings.maxAttempts, !Task.isCancelled else {
                    try await finish(request, .dead, error: "\(error)", attempts: claimed.attempts)
                    throw DeliveryAbandoned(deliveryID: request.deliveryId, lastError: "\(error)")
                }
                logger.warning("send failed, retrying", metadata: ["delivery": "\(request.deliveryId)", "attempt": "\(claimed.attempts)", "error": "\(error)"])
                metrics.retried.increment()
                try await deliveries.retrying(request.deliveryId, error: "\(error)", now: Date())
                try await Task.sleep(for: Self.jittered(backoff))
                backoff = min(backoff * 2, settings.maxBackoff)
                guard let again = try await deliveries.claim(request.deliveryId, now: Date()) else { return }
                claimed = again
            } catch {
                try await finish(request, .failed, error: "\(error)", attempts: claimed.attempts)
                return
            }
        }
    }

    /// Whether a later update of the job reached the user's feed. Compared with this request's own
    /// feed entry as stored (dates round differently through JSON and BSON), or its event time.
    func isSuperseded(_ request: SendRequest, jobID: String) async throws -> Bool {
        let own = try await request.notificationId.asyncMap { try await feed.find($0) } ?? nil
        return try await feed.hasNewer(userID: request.userId, jobID: jobID, than: own?.createdAt ?? request.eventTime.addingTimeInterval(0.001),
                                       excluding: own?._id)
    }

    /// Records the outcome; sent, failed and dead ones are announced (`notification.delivered` /
    /// `failed`, for analytics and alerts) through the outbox, in the same transaction.
    func finish(_ request: SendRequest, _ status: DeliveryRecord.Status, providerMessageID: String? = nil, error: String? = nil, attempts: Int) async throws {
        let now = Date()
        if status == .sent || status == .failed || status == .dead {
            let outcome = NotificationEvents.Outcome(deliveryId: request.deliveryId, userId: request.userId, channel: request.channel.rawValue,
                                                     kind: request.kind.rawValue, status: status.rawValue, attempts: attempts,
                                                     providerMessageId: providerMessageID, error: error)
            let event = try EventEnvelope(source: NotificationEvents.source, type: status == .sent ? NotificationEvents.delivered : NotificationEvents.failed,
                                          aggregateID: request.userId, payload: outcome)
            try await deliveries.finish(request.deliveryId, status: status, providerMessageID: providerMessageID, error: error, now: now, announcing: event)
        } else {
            try await deliveries.finish(request.deliveryId, status: status, providerMessageID: providerMessageID, error: error, now: now)
        }
        let metrics = self.metrics[request.channel]
        switch status {
        case .sent: metrics.sent.increment()
        case .skipped: metrics.skipped.increment()
        default: metrics.failed.increment()
        }
        if status != .sent && status != .skipped {
            logger.warning("notification not delivered", metadata: ["delivery": "\(request.deliveryId)", "status": "\(status.rawValue)",
                                                                    "error": "\(error ?? "")"])
        }
    }

    /// Full jitter between half and the whole backoff: retries of many sends spread out.
    static func jittered(_ backoff: Duration) -> Duration {
        let millis = Double(backoff.components.seconds) * 1_000 + Double(backoff.components.attoseconds) / 1e15
        return .milliseconds(Int(millis * Double.random(in: 0.5...1.0)))
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
