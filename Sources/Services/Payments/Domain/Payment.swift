import Foundation
import MarketplaceContracts

/// The money of one service request: an authorization hold on the client's card, then at most one
/// capture (the final amount or a cancellation fee) or a void, then refunds. Its status only moves
/// forward (`Status.rank`), whatever order Stripe's webhooks arrive in.
public struct Payment: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        case authorized, captured, voided, failed
        case partiallyRefunded = "partially_refunded"
        case refunded

        /// How far along the lifecycle: a change to a lower rank is never applied.
        var rank: Int {
            switch self {
            case .authorized: 0
            case .captured, .voided, .failed: 1
            case .partiallyRefunded: 2
            case .refunded: 3
            }
        }

        public var isSettled: Bool { rank > 0 }
        public var hasCapture: Bool { self == .captured || self == .partiallyRefunded || self == .refunded }
    }

    /// A Stripe call decided and recorded before it is made: if the process stops or Stripe does
    /// not answer, it is made again with the same idempotency key until it succeeds or fails for good.
    public struct PendingOperation: Codable, Sendable, Equatable {
        public enum Kind: String, Codable, Sendable { case capture, void, refund }
        public var kind: Kind
        public var amount: Money?
        public var key: String
        public var reason: String?
        public var attempts: Int
        public var nextAttemptAt: Date
        public var lastError: String?
    }

    public struct Refund: Codable, Sendable, Equatable {
        public var id: String
        public var amount: Money
        public var providerRefundId: String?
        public var reason: String
        public var at: Date
    }

    public var _id: String
    public var requestId: String
    public var jobId: String?
    public var clientId: String
    public var providerId: String?
    public var categoryId: String?
    /// The payment service's PaymentIntent.
    public var intentId: String
    public var hold: Money
    public var captured: Money?
    public var platformFee: Money?
    public var refunds: [Refund]
    public var status: Status
    public var pending: PendingOperation?
    /// Dispatch created the request (its `request.created` was seen); an unclaimed hold is voided.
    public var requestSeen: Bool
    public var failureReason: String?
    public var policyVersion: String
    /// Bumped by every write: writes are compare-and-set on it.
    public var version: Int
    public var createdAt: Date
    public var updatedAt: Date

    public var refunded: Money { refunds.reduce(.zero(hold.currency)) { $0 + $1.amount } }
    /// What can still be refunded: the capture less the refunds so far.
    public var refundable: Money { (captured ?? .zero(hold.currency)) - refunded }

    public var view: PaymentView {
        PaymentView(id: _id, requestId: requestId, jobId: jobId, clientId: clientId, providerId: providerId, status: status,
                    hold: hold, captured: captured, refunded: refunds.isEmpty ? nil : refunded, platformFee: platformFee,
                    pendingOperation: pending?.kind.rawValue, failureReason: failureReason, createdAt: createdAt, updatedAt: updatedAt)
    }

    /// The event announcing this payment as it is now.
    func changed(amount: Money, reason: String? = nil, providerNet: Money? = nil, fee: Money? = nil, at: Date) -> PaymentEvents.PaymentChanged {
        PaymentEvents.PaymentChanged(paymentId: _id, requestId: requestId, jobId: jobId, clientId: clientId, providerId: providerId,
                                     categoryId: categoryId, status: status.rawValue, amount: amount, hold: hold, captured: captured,
                                     refunded: refunds.isEmpty ? nil : refunded, platformFee: fee, providerNet: providerNet,
                                     reason: reason, at: at)
    }
}

public struct PaymentView: Codable, Sendable, Equatable {
    public var id: String
    public var requestId: String
    public var jobId: String?
    public var clientId: String
    public var providerId: String?
    public var status: Payment.Status
    public var hold: Money
    public var captured: Money?
    public var refunded: Money?
    public var platformFee: Money?
    public var pendingOperation: String?
    public var failureReason: String?
    public var createdAt: Date
    public var updatedAt: Date
}
