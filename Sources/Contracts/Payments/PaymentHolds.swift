import Foundation

/// Authorization holds on a client's card for a service request, as Dispatch needs them when a
/// request is created: the Payments module provides it. A refusal is a `DomainError`:
/// 402 `payment_method_required` or `payment_declined`, 503 `payment_unavailable`.
public protocol PaymentHolds: Sendable {
    /// Places a hold of `amount` for `requestID` (of `categoryID`) on the client's default payment method.
    func placeHold(requestID: String, clientID: String, categoryID: String, amount: Money, traceparent: String?) async throws -> PaymentHold
    /// Releases a hold whose request was not created after all (best effort; an unclaimed hold is
    /// also voided by Payments after a while).
    func releaseHold(paymentID: String, reason: String) async
}

public struct PaymentHold: Codable, Sendable, Equatable {
    public var paymentId: String
    public var amount: Money

    public init(paymentId: String, amount: Money) {
        self.paymentId = paymentId
        self.amount = amount
    }
}
