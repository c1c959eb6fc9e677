import Foundation
import MarketplaceContracts

/// The payment service, as Payments needs it (Stripe first: `StripeClient`). Amounts are in the
/// currency's minor units, as payment services count them. Every call that changes something
/// carries an idempotency key, so that repeating it after a lost answer changes nothing more.
public protocol PaymentProvider: Sendable {
    func createCustomer(userID: String, email: String?, idempotencyKey: String) async throws -> String
    func attach(paymentMethod: String, customer: String, idempotencyKey: String) async throws -> CardMethod
    func detach(paymentMethod: String, idempotencyKey: String) async throws
    func paymentMethods(customer: String) async throws -> [CardMethod]
    /// A PaymentIntent with manual capture, confirmed at once: the hold.
    func authorize(_ hold: HoldRequest) async throws -> ProviderIntent
    func capture(intent: String, amount: Int, idempotencyKey: String) async throws -> ProviderIntent
    func cancel(intent: String, idempotencyKey: String) async throws -> ProviderIntent
    func refund(intent: String, amount: Int, idempotencyKey: String, metadata: [String: String]) async throws -> String
    func intent(_ id: String) async throws -> ProviderIntent
    /// The PaymentIntents created in `range` (for reconciliation).
    func intents(createdIn range: Range<Date>) async throws -> [ProviderIntent]
}

public struct HoldRequest: Sendable, Equatable {
    public var amount: Int
    public var currency: String
    public var customer: String
    public var paymentMethod: String
    public var metadata: [String: String]
    public var idempotencyKey: String
}

/// A card as the client sees it in their list.
public struct CardMethod: Codable, Sendable, Equatable {
    public var id: String
    public var brand: String?
    public var last4: String?
    public var expMonth: Int?
    public var expYear: Int?
    public var isDefault: Bool

    public init(id: String, brand: String?, last4: String?, expMonth: Int?, expYear: Int?, isDefault: Bool = false) {
        self.id = id
        self.brand = brand
        self.last4 = last4
        self.expMonth = expMonth
        self.expYear = expYear
        self.isDefault = isDefault
    }
}

/// A PaymentIntent as the payment service reports it now.
public struct ProviderIntent: Sendable, Equatable {
    public enum Status: String, Sendable {
        case requiresPaymentMethod = "requires_payment_method", requiresConfirmation = "requires_confirmation"
        case requiresAction = "requires_action", processing, requiresCapture = "requires_capture", canceled, succeeded
    }
    public var id: String
    public var status: Status
    /// The amount authorized.
    public var amount: Int
    public var currency: String
    /// What was captured, where the payment service says (real Stripe does; localstripe does not).
    public var captured: Int?
    /// What the client paid in the end: captured less refunded (nil before a capture).
    public var net: Int?
    public var created: Date
    public var metadata: [String: String]
}

/// Why the payment service refused or did not answer.
public enum PaymentProviderError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The card was declined (a client's problem: 402).
    case declined(code: String, message: String)
    /// The request was refused as invalid (our problem or a stale state: never retried).
    case invalid(status: Int, code: String?, message: String)
    case notFound(String)
    /// Network error, timeout, 5xx, 429 or an open circuit: try again later.
    case unavailable(String)

    public var description: String {
        switch self {
        case .declined(let code, let message): "declined (\(code)): \(message)"
        case .invalid(let status, let code, let message): "refused (\(status) \(code ?? "-")): \(message)"
        case .notFound(let what): "not found: \(what)"
        case .unavailable(let why): "unavailable: \(why)"
        }
    }

    public var isTransient: Bool { if case .unavailable = self { true } else { false } }
}
