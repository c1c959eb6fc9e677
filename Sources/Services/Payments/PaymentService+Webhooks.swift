import Foundation
import MarketplaceContracts

/// Stripe's webhooks: verified over the raw body, stored by event id, answered at once; folded in
/// afterwards by reading the PaymentIntent back from Stripe (never trusting the event's copy of
/// it, nor the order events arrive in).
extension PaymentService {
    public enum WebhookReceipt: Sendable, Equatable { case stored, duplicate }

    /// `POST /v1/payments/webhooks/stripe`. Forged or stale → 400 and nothing stored; valid
    /// signature over malformed JSON → 400; otherwise stored (a duplicate is acknowledged too).
    public func receiveWebhook(body: [UInt8], signature: String?, now: Date = Date()) async throws -> WebhookReceipt {
        do { try webhookSignature.verify(header: signature, body: body, now: now) } catch {
            let stale = if case .stale = error { true } else { false }
            metrics.webhook(stale ? "stale" : "bad_signature")
            throw DomainError.badRequest(stale ? "stale_signature" : "invalid_signature", "\(error)")
        }
        guard let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any],
              let id = object["id"] as? String, !id.isEmpty, id.count <= 255, let type = object["type"] as? String else {
            metrics.webhook("malformed")
            throw DomainError.badRequest("malformed_event", "the body is not a Stripe event (JSON with id and type)")
        }
        let stored = try await webhooks.store(WebhookEvent(_id: id, type: type, body: String(decoding: body, as: UTF8.self), receivedAt: now,
                                                           processedAt: nil, outcome: nil, attempts: 0, leaseUntil: nil))
        metrics.webhook(stored ? "accepted" : "duplicate")
        return stored ? .stored : .duplicate
    }

    /// Processes stored events until none is waiting (the `payments-webhooks` worker). Returns how many.
    @discardableResult
    public func processWebhooks(now: @Sendable () -> Date = Date.init, limit: Int = 100) async throws -> Int {
        var processed = 0
        while processed < limit, let event = try await webhooks.claim(now: now(), lease: 30) {
            let outcome = try await process(event)
            try await webhooks.finish(id: event._id, outcome: outcome, at: now())
            metrics.webhookProcessed(outcome)
            processed += 1
        }
        return processed
    }

    /// Makes a stored event unprocessed again and processes it (`marketplace payments replay`).
    public func replayWebhook(id: String) async throws -> String {
        guard try await webhooks.reopen(id: id) else { throw DomainError.notFound("webhook event '\(id)'") }
        try await processWebhooks()
        // A running payments-webhooks worker may have claimed it first: its outcome, once it has one.
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let outcome = try await webhooks.find(id: id)?.outcome { return outcome }
            try await Task.sleep(for: .milliseconds(100))
        }
        return "pending"
    }

    /// The PaymentIntent an event concerns, if it is a kind that can change a payment.
    static let relevantPrefixes = ["payment_intent.", "charge.", "refund."]

    func process(_ event: WebhookEvent) async throws -> String {
        guard Self.relevantPrefixes.contains(where: event.type.hasPrefix) else { return "ignored" }
        guard let root = (try? JSONSerialization.jsonObject(with: Data(event.body.utf8))) as? [String: Any],
              let object = (root["data"] as? [String: Any])?["object"] as? [String: Any] else { return "ignored" }
        let intentID = (object["object"] as? String == "payment_intent" ? object["id"] : object["payment_intent"]) as? String
        guard let intentID, let payment = try await payments.find(intent: intentID) else { return "unknown_payment" }
        let intent = try await provider.intent(intentID)  // what Stripe says now, not what the event said then
        return try await converge(payment, with: intent) ? "applied" : "no_change"
    }
}
