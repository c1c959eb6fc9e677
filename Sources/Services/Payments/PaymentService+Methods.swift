import Foundation
import MarketplaceContracts

/// Clients' cards: attached to their Stripe customer (made on first use), one of them the
/// default that holds are placed on.
extension PaymentService {
    /// Attaches a payment method made by Stripe.js or a mobile SDK (`pm_...`) to the caller's
    /// customer; the first one, or one asked for, becomes the default.
    public func addPaymentMethod(_ caller: Caller, paymentMethodID: String, makeDefault: Bool?) async throws -> CardMethod {
        guard paymentMethodID.range(of: "^pm_[A-Za-z0-9_]{1,200}$", options: .regularExpression) != nil else {
            throw DomainError.validation("paymentMethodId: a Stripe payment method id (pm_...)")
        }
        let customer = try await customer(of: caller)
        var card: CardMethod
        do {
            card = try await provider.attach(paymentMethod: paymentMethodID, customer: customer.customerId,
                                            idempotencyKey: "attach-\(caller.userID)-\(paymentMethodID)")
        } catch let error as PaymentProviderError {
            throw Self.refusal(error, field: "paymentMethodId")
        }
        if makeDefault ?? true || customer.defaultPaymentMethod == nil {
            try await customers.setDefault(user: caller.userID, paymentMethod: card.id)
            card.isDefault = true
        }
        metrics.operation("attach", "ok")
        return card
    }

    public func paymentMethods(_ caller: Caller) async throws -> [CardMethod] {
        guard let customer = try await customers.find(user: caller.userID) else { return [] }
        let cards: [CardMethod]
        do { cards = try await provider.paymentMethods(customer: customer.customerId) } catch let error as PaymentProviderError {
            throw Self.refusal(error, field: nil)
        }
        return cards.map { card in
            var card = card
            card.isDefault = card.id == customer.defaultPaymentMethod
            return card
        }
    }

    public func setDefaultPaymentMethod(_ caller: Caller, id: String) async throws -> CardMethod {
        guard let card = try await paymentMethods(caller).first(where: { $0.id == id }) else { throw DomainError.notFound("payment method '\(id)'") }
        try await customers.setDefault(user: caller.userID, paymentMethod: id)
        var chosen = card
        chosen.isDefault = true
        return chosen
    }

    /// Detaches one of the caller's cards; if it was the default, another (if any) becomes it.
    public func removePaymentMethod(_ caller: Caller, id: String) async throws {
        let cards = try await paymentMethods(caller)
        guard let card = cards.first(where: { $0.id == id }) else { throw DomainError.notFound("payment method '\(id)'") }
        do { try await provider.detach(paymentMethod: id, idempotencyKey: "detach-\(caller.userID)-\(id)") } catch let error as PaymentProviderError {
            throw Self.refusal(error, field: nil)
        }
        if card.isDefault {
            try await customers.setDefault(user: caller.userID, paymentMethod: cards.first(where: { $0.id != id })?.id)
        }
    }

    /// The caller's Stripe customer, created on first use (one per user: the idempotency key and
    /// the unique record make a concurrent second attempt converge on the first).
    func customer(of caller: Caller) async throws -> PaymentCustomer {
        if let existing = try await customers.find(user: caller.userID) { return existing }
        let email = try? await contacts?.contact(of: caller.userID)?.email
        let id: String
        do { id = try await provider.createCustomer(userID: caller.userID, email: email, idempotencyKey: "customer-\(caller.userID)") } catch let error as PaymentProviderError {
            throw Self.refusal(error, field: nil)
        }
        return try await customers.insertOrExisting(PaymentCustomer(_id: caller.userID, customerId: id, defaultPaymentMethod: nil, createdAt: Date()))
    }

    /// A payment service's refusal as the API's: declines are 402, an absent service 503.
    static func refusal(_ error: PaymentProviderError, field: String?) -> DomainError {
        switch error {
        case .declined(let code, let message):
            DomainError(kind: .paymentRequired, code: "payment_declined", title: "The card was declined", detail: "\(code): \(message)")
        case .unavailable:
            DomainError(kind: .unavailable, code: "payment_unavailable", title: "The payment service does not answer; try again shortly", retryAfter: 5)
        case .notFound(let what):
            field.map { DomainError.validation("\($0): no such payment method") } ?? DomainError.notFound(what)
        case .invalid(_, let code, let message):
            DomainError(kind: .unprocessableContent, code: "payment_rejected", title: "The payment service refused the request",
                        detail: (field.map { "\($0): " } ?? "") + "\(code.map { "\($0): " } ?? "")\(message)")
        }
    }
}
