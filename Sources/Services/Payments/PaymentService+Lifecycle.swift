import Foundation
import MarketplaceContracts
import MarketplaceMessaging

/// The money following the job: Dispatch's events decide (`PaymentPolicy`), the decision is
/// recorded as the payment's pending operation, then made at Stripe and settled.
extension PaymentService {
    /// Applies one of Dispatch's events (the `payments` worker, through its inbox).
    public func apply(_ event: EventEnvelope, inbox: Inbox) async throws {
        let requestID: String
        var update: (inout Payment) -> Payment.PendingOperation.Kind? = { _ in nil }
        var amount: Money?
        var reason = ""
        switch event.type {
        case DispatchEvents.requestCreated:
            requestID = try event.decode(DispatchEvents.RequestCreated.self).requestId
            update = { $0.requestSeen = true; return nil }
        case DispatchEvents.requestCancelled:
            let cancelled = try event.decode(DispatchEvents.RequestCancelled.self)
            requestID = cancelled.requestId
            guard case .void(let why) = policy.decide(requestCancelled: cancelled) else { return }
            reason = why
            update = { _ in .void }
        case DispatchEvents.requestUnfulfilled:
            requestID = try event.decode(DispatchEvents.RequestCancelled.self).requestId
            guard case .void(let why) = policy.decideUnfulfilled() else { return }
            reason = why
            update = { _ in .void }
        case DispatchEvents.jobAssigned:
            let assigned = try event.decode(DispatchEvents.JobAssigned.self)
            requestID = assigned.requestId
            update = { $0.jobId = assigned.jobId; $0.providerId = assigned.providerId; return nil }
        case DispatchEvents.jobStatusChanged:
            let change = try event.decode(DispatchEvents.JobStatusChanged.self)
            requestID = change.requestId
            guard let payment = try await payments.find(request: requestID) else { return }
            switch policy.decide(change, hold: payment.hold) {
            case .none: return
            case .void(let why):
                reason = why
                update = { $0.jobId = change.jobId; $0.providerId = change.providerId; return .void }
            case .capture(let money, let why):
                (amount, reason) = (money, why)
                update = { $0.jobId = change.jobId; $0.providerId = change.providerId; return .capture }
            }
        default:
            return
        }
        // Compare-and-set on the version: re-read and decide again if another writer came first.
        for _ in 0..<5 {
            guard var payment = try await payments.find(request: requestID) else { return }  // a request without a hold
            let version = payment.version
            if let kind = update(&payment) {
                guard payment.pending == nil, payment.status == .authorized else {
                    logger.info("payment \(payment._id) is \(payment.status.rawValue)\(payment.pending.map { ", \($0.kind.rawValue) pending" } ?? ""): \(event.type.rawValue) changes nothing")
                    try await inbox.processOnce(event) { _ in }
                    return
                }
                payment.pending = Payment.PendingOperation(kind: kind, amount: amount, key: "\(kind.rawValue)-\(payment._id)", reason: reason,
                                                           attempts: 0, nextAttemptAt: Date().addingTimeInterval(Self.operationLease), lastError: nil)
            }
            do {
                guard try await commit(payment, readAt: version, traceparent: event.traceparent, inbox: (inbox, event)) else { return }
            } catch is ConcurrentChange { continue }
            if payment.pending != nil { await performPending(id: payment._id) }
            return
        }
        throw ConcurrentChange()
    }

    /// Records a decided operation on the payment (if it has none and is still a hold) and makes it.
    func schedule(_ kind: Payment.PendingOperation.Kind, amount: Money?, reason: String, on payment: Payment) async throws -> Payment? {
        guard payment.pending == nil, payment.status == .authorized || kind == .refund else { return nil }
        var next = payment
        next.pending = Payment.PendingOperation(kind: kind, amount: amount, key: "\(kind.rawValue)-\(payment._id)", reason: reason,
                                                attempts: 0, nextAttemptAt: Date().addingTimeInterval(Self.operationLease), lastError: nil)
        guard try await commit(next, readAt: payment.version) else { return nil }
        return await performPending(id: payment._id)
    }

    /// Makes the payment's pending Stripe call (again) and settles its result. Transient failures
    /// leave it pending with the next attempt scheduled; returns the payment as it is after.
    ///
    /// The operation is claimed first (its next attempt moved a lease ahead, compare-and-set), so
    /// that the retry chore of another instance never makes the same call at the same time: a
    /// payment service that ignores idempotency keys would otherwise refund twice.
    @discardableResult
    func performPending(id: String) async -> Payment? {
        do {
            guard let found = try await payments.find(id: id), var operation = found.pending else { return try await payments.find(id: id) }
            operation.nextAttemptAt = Date().addingTimeInterval(Self.operationLease)
            var claimed = found
            claimed.pending = operation
            guard try await commit(claimed, readAt: found.version) else { return try await payments.find(id: id) }  // another caller has it
            guard let payment = try await payments.find(id: id), payment.pending?.key == operation.key else { return try await payments.find(id: id) }
            do {
                switch operation.kind {
                case .capture:
                    let amount = operation.amount ?? payment.hold
                    guard amount.currency == payment.hold.currency, amount.amount <= payment.hold.amount, let minor = amount.minorUnits, minor > 0 else {
                        return try await fail(payment, reason: "capture of \(amount) does not fit the hold of \(payment.hold)")
                    }
                    let intent = try await provider.capture(intent: payment.intentId, amount: minor, idempotencyKey: operation.key)
                    return try await settle(payment, with: intent, operation: operation)
                case .void:
                    let intent = try await provider.cancel(intent: payment.intentId, idempotencyKey: operation.key)
                    return try await settle(payment, with: intent, operation: operation)
                case .refund:
                    guard let amount = operation.amount, let minor = amount.minorUnits else { return try await fail(payment, reason: "refund without an amount") }
                    let refundID = try await provider.refund(intent: payment.intentId, amount: minor, idempotencyKey: operation.key,
                                                             metadata: ["payment_id": payment._id, "reason": operation.reason ?? ""])
                    return try await settleRefund(payment, operation: operation, providerRefundID: refundID)
                }
            } catch let error as PaymentProviderError where error.isTransient {
                metrics.retried.increment()
                return try await postpone(payment, error: error)
            } catch let error as PaymentProviderError {
                // Refused: perhaps because it was done before (an answer lost, or a service that
                // ignores idempotency keys). What the PaymentIntent says now decides.
                if operation.kind != .refund, let intent = try? await provider.intent(payment.intentId),
                   let settled = try await settle(payment, with: intent, operation: operation, strict: true) {
                    return settled
                }
                metrics.operation(operation.kind.rawValue, StripeClient.outcome(error))
                return try await fail(payment, reason: "\(operation.kind.rawValue) refused: \(error)")
            }
        } catch {
            logger.warning("payment \(id): pending operation not settled now (retried later): \(error)")
            return nil
        }
    }

    /// Writes what Stripe reports after a capture or a void. With `strict`, nil when the intent
    /// does not show the operation done (instead of failing the payment).
    func settle(_ payment: Payment, with intent: ProviderIntent, operation: Payment.PendingOperation, strict: Bool = false) async throws -> Payment? {
        switch (operation.kind, intent.status) {
        case (.capture, .succeeded):
            return try await settleCapture(payment, amount: operation.amount ?? payment.hold, reason: operation.reason)
        case (.void, .canceled):
            return try await settleVoid(payment, reason: operation.reason)
        case (.capture, .canceled):
            // The hold expired or was cancelled elsewhere: nothing can be captured any more.
            return try await fail(payment, reason: "the hold was cancelled before the capture")
        case (.void, .succeeded):
            // Captured elsewhere (the dashboard): the money is in; the ledger follows Stripe.
            return try await settleCapture(payment, amount: intent.captured.map { Money(minorUnits: $0, currency: payment.hold.currency) } ?? payment.hold,
                                           reason: "captured_at_stripe")
        default:
            if strict { return nil }
            return try await postpone(payment, error: PaymentProviderError.unavailable("the PaymentIntent is \(intent.status.rawValue)"))
        }
    }

    func settleCapture(_ payment: Payment, amount: Money, reason: String?) async throws -> Payment? {
        var next = payment
        let (fee, net) = policy.split(amount)
        next.status = .captured
        next.captured = amount
        next.platformFee = fee
        next.pending = nil
        let now = Date()
        let event = next.changed(amount: amount, reason: reason, providerNet: net, fee: fee, at: now)
        guard try await commit(next, readAt: payment.version, ledger: .capture(next, amount: amount, fee: fee, at: now),
                               event: (PaymentEvents.captured, event)) else { return nil }
        metrics.operation("capture", "ok")
        return try await payments.find(id: payment._id)
    }

    func settleVoid(_ payment: Payment, reason: String?) async throws -> Payment? {
        var next = payment
        next.status = .voided
        next.pending = nil
        guard try await commit(next, readAt: payment.version, event: (PaymentEvents.voided, next.changed(amount: payment.hold, reason: reason, at: Date()))) else { return nil }
        metrics.operation("void", "ok")
        return try await payments.find(id: payment._id)
    }

    func settleRefund(_ payment: Payment, operation: Payment.PendingOperation, providerRefundID: String) async throws -> Payment? {
        guard let amount = operation.amount, let captured = payment.captured else { return try await fail(payment, reason: "refund of nothing captured") }
        let refundID = String(operation.key.dropFirst("refund-".count))
        let fee = RefundSplit.fee(captured: captured, fee: payment.platformFee ?? .zero(captured.currency), refundedBefore: payment.refunded, refunding: amount)
        var next = payment
        let now = Date()
        next.refunds.append(Payment.Refund(id: refundID, amount: amount, providerRefundId: providerRefundID, reason: operation.reason ?? "", at: now))
        next.status = next.refundable.amount == 0 ? .refunded : .partiallyRefunded
        next.pending = nil
        let event = next.changed(amount: amount, reason: operation.reason, providerNet: amount - fee, fee: fee, at: now)
        guard try await commit(next, readAt: payment.version, ledger: .refund(next, refundID: refundID, amount: amount, fee: fee, at: now),
                               event: (PaymentEvents.refunded, event)) else { return nil }
        metrics.operation("refund", "ok")
        return try await payments.find(id: payment._id)
    }

    /// Gives up the pending operation for good: `payment.failed`, the alert's counter. A refund
    /// that fails leaves the capture as it was.
    func fail(_ payment: Payment, reason: String) async throws -> Payment? {
        var next = payment
        let kind = payment.pending?.kind
        if kind != .refund { next.status = .failed }
        next.failureReason = reason
        next.pending = nil
        guard try await commit(next, readAt: payment.version,
                               event: (PaymentEvents.failed, next.changed(amount: payment.pending?.amount ?? payment.hold, reason: reason, at: Date()))) else { return nil }
        metrics.failed.increment()
        logger.error("payment \(payment._id) failed: \(reason)")
        return try await payments.find(id: payment._id)
    }

    /// Keeps the operation pending, the next attempt after a doubling, jittered wait.
    func postpone(_ payment: Payment, error: PaymentProviderError) async throws -> Payment? {
        guard var operation = payment.pending else { return payment }
        operation.attempts += 1
        let ceiling = min(settings.maxBackoff, settings.initialBackoff * pow(2, Double(min(operation.attempts, 20))))
        operation.nextAttemptAt = Date().addingTimeInterval(Double.random(in: ceiling / 2...ceiling))
        operation.lastError = "\(error)"
        var next = payment
        next.pending = operation
        _ = try await commit(next, readAt: payment.version)
        logger.warning("payment \(payment._id): \(operation.kind.rawValue) postponed (attempt \(operation.attempts)): \(error)")
        return try await payments.find(id: payment._id)
    }

    /// How long a claimed operation is left to its claimer before another may try it. A new
    /// operation is born claimed by its creator, who makes it at once: the retry chore takes it
    /// only if the creator stops before settling it.
    static let operationLease: TimeInterval = 60

    // MARK: chores

    /// Makes the pending operations that are due (the `payments` worker, every second).
    public func retryDueOperations(now: Date = Date()) async throws {
        for payment in try await payments.due(now: now) { await performPending(id: payment._id) }
    }

    /// Voids holds whose request was never created (Dispatch failed after placing it).
    public func voidUnclaimedHolds(now: Date = Date()) async throws {
        for payment in try await payments.unclaimed(before: now.addingTimeInterval(-policy.unclaimedHoldAfter)) {
            _ = try await schedule(.void, amount: nil, reason: "unclaimed_hold", on: payment)
        }
    }

    /// Brings a payment in line with its PaymentIntent (webhooks, reconciliation): only forward
    /// changes are applied, so duplicated, replayed and out-of-order events converge.
    func converge(_ payment: Payment, with intent: ProviderIntent) async throws -> Bool {
        guard payment.status == .authorized else { return false }
        if let operation = payment.pending {
            return try await settle(payment, with: intent, operation: operation, strict: true) != nil
        }
        switch intent.status {
        case .succeeded:
            let amount = intent.captured.map { Money(minorUnits: $0, currency: payment.hold.currency) } ?? payment.hold
            return try await settleCapture(payment, amount: amount, reason: "captured_at_stripe") != nil
        case .canceled:
            return try await settleVoid(payment, reason: "cancelled_at_stripe") != nil
        default:
            return false
        }
    }
}
