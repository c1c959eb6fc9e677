import Foundation
import MarketplaceContracts
import MarketplaceMessaging

/// The hold Dispatch asks for when a client creates a request (the `PaymentHolds` port).
extension PaymentService: PaymentHolds {
    public func placeHold(requestID: String, clientID: String, categoryID: String, amount: Money, traceparent: String?) async throws -> PaymentHold {
        guard let minor = amount.minorUnits, minor > 0 else {
            throw DomainError.validation("budget.amount: a positive amount in whole \(amount.currency) minor units")
        }
        guard let customer = try await customers.find(user: clientID), let method = customer.defaultPaymentMethod else {
            metrics.operation("hold", "no_payment_method")
            throw DomainError(kind: .paymentRequired, code: "payment_method_required", title: "Add a payment method first",
                              detail: "POST /v1/payments/methods with a card, then request again")
        }
        let intent: ProviderIntent
        do {
            intent = try await provider.authorize(HoldRequest(amount: minor, currency: amount.currency, customer: customer.customerId,
                                                              paymentMethod: method, metadata: ["request_id": requestID, "client_id": clientID, "ledger": ledgerName],
                                                              idempotencyKey: "hold-\(requestID)"))
        } catch let error as PaymentProviderError {
            metrics.operation("hold", StripeClient.outcome(error))
            throw Self.refusal(error, field: nil)
        }
        guard intent.status == .requiresCapture else {
            // 3-D Secure and other customer actions cannot happen inside a request creation.
            _ = try? await provider.cancel(intent: intent.id, idempotencyKey: "void-\(intent.id)")
            metrics.operation("hold", "declined")
            throw DomainError(kind: .paymentRequired, code: "payment_declined", title: "The card was declined",
                              detail: "the card needs \(intent.status.rawValue); use another card")
        }
        let now = Date()
        let payment = Payment(_id: "pay_\(UUID().uuidString.lowercased())", requestId: requestID, jobId: nil, clientId: clientID, providerId: nil,
                              categoryId: categoryID,
                              intentId: intent.id, hold: amount, captured: nil, platformFee: nil, refunds: [], status: .authorized, pending: nil,
                              requestSeen: false, failureReason: nil, policyVersion: PaymentPolicy.version, version: 0, createdAt: now, updatedAt: now)
        do {
            let event = try EventEnvelope(source: PaymentEvents.source, type: PaymentEvents.authorized, aggregateID: payment._id,
                                          payload: payment.changed(amount: amount, at: now), traceparent: traceparent)
            try await mongo.withTransaction { session in
                try session.collection(PaymentRepository.collectionName, as: Payment.self).insert(payment)
                try Outbox.append(event, to: Topic.payments, in: session)
            }
        } catch {
            _ = try? await provider.cancel(intent: intent.id, idempotencyKey: "void-\(intent.id)")
            throw error
        }
        metrics.operation("hold", "ok")
        return PaymentHold(paymentId: payment._id, amount: amount)
    }

    public func releaseHold(paymentID: String, reason: String) async {
        do {
            guard let payment = try await payments.find(id: paymentID) else { return }
            _ = try await schedule(.void, amount: nil, reason: reason, on: payment)
        } catch {
            logger.warning("hold \(paymentID) not released now (the unclaimed-hold sweep will): \(error)")
        }
    }
}
