import Foundation

/// Events the Payments service publishes on `Topic.payments` (keyed by payment id), through its
/// outbox: one per change of a payment, with the amounts after it.
public enum PaymentEvents {
    public static let source = "/services/payments"
    public static let authorized: EventType = "marketplace.payment.authorized.v1"
    public static let captured: EventType = "marketplace.payment.captured.v1"
    public static let voided: EventType = "marketplace.payment.voided.v1"
    public static let refunded: EventType = "marketplace.payment.refunded.v1"
    public static let failed: EventType = "marketplace.payment.failed.v1"

    /// A payment after a change. `amount` is what this change moved (the hold, the capture, the
    /// refund); `platformFee` and `providerNet` split a capture or a refund as the ledger does.
    public struct PaymentChanged: Codable, Sendable, Equatable {
        public var paymentId: String
        public var requestId: String
        public var jobId: String?
        public var clientId: String
        public var providerId: String?
        /// The request's service category.
        public var categoryId: String?
        public var status: String
        public var amount: Money
        public var hold: Money
        public var captured: Money?
        public var refunded: Money?
        public var platformFee: Money?
        public var providerNet: Money?
        public var reason: String?
        public var at: Date

        public init(paymentId: String, requestId: String, jobId: String?, clientId: String, providerId: String?, categoryId: String? = nil, status: String,
                    amount: Money, hold: Money, captured: Money? = nil, refunded: Money? = nil, platformFee: Money? = nil,
                    providerNet: Money? = nil, reason: String? = nil, at: Date) {
            self.paymentId = paymentId
            self.requestId = requestId
            self.jobId = jobId
            self.clientId = clientId
            self.providerId = providerId
            self.categoryId = categoryId
            self.status = status
            self.amount = amount
            self.hold = hold
            self.captured = captured
            self.refunded = refunded
            self.platformFee = platformFee
            self.providerNet = providerNet
            self.reason = reason
            self.at = at
        }
    }
}
