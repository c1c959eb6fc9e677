import Foundation
import MarketplaceContracts

/// One money movement in the double-entry ledger: postings that sum to zero per currency.
/// Its id is the operation that caused it (`capture:<payment>`, `refund:<refund>`), so applying
/// it twice inserts nothing; transactions are never updated, only reversed by new ones.
///
/// Accounts (debits positive): `psp:clearing` — what the payment service collected for us;
/// `provider:<id>:payable` — what the platform owes a provider (credit-normal);
/// `platform:fees` — the platform's revenue (credit-normal).
public struct LedgerTransaction: Codable, Sendable, Equatable {
    public struct Posting: Codable, Sendable, Equatable {
        public var account: String
        public var amount: Money
    }

    public enum Kind: String, Codable, Sendable { case capture, refund }

    public var _id: String
    public var kind: Kind
    public var paymentId: String
    public var jobId: String?
    public var providerId: String?
    /// Every account touched, for per-account queries.
    public var accounts: [String]
    public var postings: [Posting]
    public var at: Date

    public static let clearing = "psp:clearing"
    public static let fees = "platform:fees"
    public static func payable(_ providerID: String) -> String { "provider:\(providerID):payable" }

    init(id: String, kind: Kind, payment: Payment, postings: [Posting], at: Date) {
        self._id = id
        self.kind = kind
        self.paymentId = payment._id
        self.jobId = payment.jobId
        self.providerId = payment.providerId
        self.accounts = postings.map(\.account)
        self.postings = postings
        self.at = at
    }

    /// A capture: the payment service holds `amount`; the provider is owed their share, the
    /// platform earns its fee.
    static func capture(_ payment: Payment, amount: Money, fee: Money, at: Date) -> LedgerTransaction {
        LedgerTransaction(id: "capture:\(payment._id)", kind: .capture, payment: payment, postings: [
            Posting(account: clearing, amount: amount),
            Posting(account: payable(payment.providerId ?? "unassigned"), amount: -(amount - fee)),
            Posting(account: fees, amount: -fee),
        ], at: at)
    }

    /// A refund reverses its part of the capture's split: `fee` of it comes back from the
    /// platform's fees, the rest from the provider's payable.
    static func refund(_ payment: Payment, refundID: String, amount: Money, fee: Money, at: Date) -> LedgerTransaction {
        LedgerTransaction(id: "refund:\(refundID)", kind: .refund, payment: payment, postings: [
            Posting(account: clearing, amount: -amount),
            Posting(account: payable(payment.providerId ?? "unassigned"), amount: amount - fee),
            Posting(account: fees, amount: fee),
        ], at: at)
    }

    /// Whether the postings sum to zero in every currency.
    public var isBalanced: Bool {
        Dictionary(grouping: postings, by: \.amount.currency).values.allSatisfy { $0.reduce(Decimal(0)) { $0 + $1.amount.amount } == 0 }
    }
}

/// How much of a capture's fee a refund gives back: proportional, and computed on the running
/// total so that refunding everything gives back exactly the whole fee (no cent lost to rounding).
public enum RefundSplit {
    public static func fee(captured: Money, fee: Money, refundedBefore: Money, refunding: Money) -> Money {
        guard captured.amount > 0 else { return .zero(captured.currency) }
        let ratio = fee.amount / captured.amount
        return (refundedBefore + refunding).times(ratio) - refundedBefore.times(ratio)
    }
}
