import Foundation
import MarketplaceContracts

/// Refunds, providers' earnings, the ledger check and the reconciliation with Stripe.
extension PaymentService {
    // MARK: refunds

    /// An admin's refund of a captured payment, partial or full (the rest of the capture when
    /// `amount` is nil). Split back between provider and platform as the capture was.
    public func refund(_ caller: Caller, paymentID: String, amount: Money?, reason: String) async throws -> PaymentView {
        guard caller.role == .admin else { throw DomainError.forbidden }
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...500).contains(reason.count) else { throw DomainError.validation("reason: 1 to 500 characters") }
        guard let payment = try await payments.find(id: paymentID) else { throw DomainError.notFound("payment '\(paymentID)'") }
        guard payment.status == .captured || payment.status == .partiallyRefunded else {
            throw DomainError.conflict("not_refundable", "the payment is \(payment.status.rawValue); only a captured payment is refunded")
        }
        guard payment.pending == nil else { throw DomainError.conflict("operation_pending", "a \(payment.pending!.kind.rawValue) of this payment is in progress") }
        let refundable = payment.refundable
        let amount = amount ?? refundable
        guard amount.currency == payment.hold.currency else { throw DomainError.validation("amount.currency: the payment is in \(payment.hold.currency)") }
        guard amount.amount > 0, amount.minorUnits != nil else { throw DomainError.validation("amount.amount: a positive amount in whole \(amount.currency) minor units") }
        guard amount.amount <= refundable.amount else {
            throw DomainError.validation("amount.amount: at most \(refundable.amountText) (captured \(payment.captured?.amountText ?? "0") less refunds)")
        }
        let refundID = "rf_\(UUID().uuidString.lowercased())"
        var next = payment
        next.pending = Payment.PendingOperation(kind: .refund, amount: amount, key: "refund-\(refundID)", reason: reason, attempts: 0,
                                                nextAttemptAt: Date().addingTimeInterval(Self.operationLease), lastError: nil)
        guard try await commit(next, readAt: payment.version) else { throw DomainError.conflict("invalid_transition", "the payment changed meanwhile; read it again") }
        let after = await performPending(id: payment._id)
        return (after ?? next).view
    }

    // MARK: earnings

    public struct Earnings: Codable, Sendable {
        /// What the platform owes the provider, per currency (captures less the platform's fee, less refunds).
        public var balance: [Money]
        /// Holds on jobs assigned to the provider, not captured yet.
        public var pendingHolds: [Money]
        public var postings: [EarningsPosting]
        public var nextCursor: String?
    }

    public struct EarningsPosting: Codable, Sendable {
        public var transactionId: String
        public var kind: LedgerTransaction.Kind
        public var paymentId: String
        public var jobId: String?
        /// Positive: earned; negative: given back by a refund.
        public var amount: Money
        public var at: Date
    }

    public func earnings(_ caller: Caller, cursor: String?, limit: Int) async throws -> Earnings {
        guard caller.role == .provider else { throw DomainError(kind: .forbidden, code: "forbidden", title: "Only providers have earnings") }
        let account = LedgerTransaction.payable(caller.userID)
        var before: (Date, String)?
        if let cursor {
            let parts = cursor.split(separator: "|", maxSplits: 1)
            guard parts.count == 2, let millis = Double(parts[0]) else { throw DomainError.invalidParameter("cursor", "a nextCursor from an earlier page") }
            before = (Date(timeIntervalSince1970: millis / 1000), String(parts[1]))
        }
        let page = try await ledger.page(account: account, before: before, limit: limit + 1)
        let all = try await ledger.all(account: account)
        let holds = try await payments.authorized(provider: caller.userID)
        let postings = page.prefix(limit).flatMap { transaction in
            transaction.postings.filter { $0.account == account }.map {
                EarningsPosting(transactionId: transaction._id, kind: transaction.kind, paymentId: transaction.paymentId, jobId: transaction.jobId,
                                amount: -$0.amount, at: transaction.at)
            }
        }
        let next = page.count > limit ? page[limit - 1] : nil
        return Earnings(balance: Self.totals(all.flatMap(\.postings).filter { $0.account == account }.map { -$0.amount }),
                        pendingHolds: Self.totals(holds.map(\.hold)), postings: postings,
                        nextCursor: next.map { "\(Int(($0.at.timeIntervalSince1970 * 1000).rounded()))|\($0._id)" })
    }

    static func totals(_ amounts: [Money]) -> [Money] {
        Dictionary(grouping: amounts, by: \.currency).map { currency, items in items.reduce(.zero(currency), +) }.sorted { $0.currency < $1.currency }
    }

    // MARK: the ledger check

    public struct LedgerCheck: Codable, Sendable, Equatable {
        public var ok: Bool
        public var transactions: Int
        /// Transactions whose postings do not sum to zero per currency.
        public var unbalanced: [String]
        /// Captured payments without their capture transaction, or whose postings disagree with them.
        public var mismatched: [String]
        /// Per account and currency.
        public var totals: [String: [Money]]
    }

    /// Every transaction balances; every capture and refund of a payment has its transaction with
    /// the same amount; totals per account.
    public func checkLedger(_ caller: Caller) async throws -> LedgerCheck {
        guard caller.role == .admin else { throw DomainError.forbidden }
        return try await checkLedger()
    }

    public func checkLedger() async throws -> LedgerCheck {
        let transactions = try await ledger.all()
        let unbalanced = transactions.filter { !$0.isBalanced }.map(\._id)
        let byID = Dictionary(transactions.map { ($0._id, $0) }, uniquingKeysWith: { first, _ in first })
        var mismatched: [String] = []
        for status in [Payment.Status.captured, .partiallyRefunded, .refunded] {
            for payment in try await payments.all(status: status) {
                let clearing = { (id: String) in byID[id]?.postings.first { $0.account == LedgerTransaction.clearing }?.amount }
                var ok = clearing("capture:\(payment._id)") == payment.captured
                for refund in payment.refunds where clearing("refund:\(refund.id)") != -refund.amount { ok = false }
                if !ok { mismatched.append(payment._id) }
            }
        }
        let postings = transactions.flatMap(\.postings)
        let totals = Dictionary(grouping: postings, by: \.account).mapValues { Self.totals($0.map(\.amount)) }
        return LedgerCheck(ok: unbalanced.isEmpty && mismatched.isEmpty, transactions: transactions.count, unbalanced: unbalanced,
                           mismatched: mismatched.sorted(), totals: totals)
    }

    // MARK: reconciliation

    public struct Difference: Codable, Sendable, Equatable {
        public var paymentId: String?
        public var intentId: String
        public var problem: String
    }

    /// Compares the payments created in `range` with Stripe's PaymentIntents of the same range:
    /// status, and what the client paid in the end (captured less refunded).
    public func reconcile(_ range: Range<Date>) async throws -> [Difference] {
        let ours = try await payments.created(in: range)
        // Stripe's clock and ours differ a little: look a minute either side for theirs.
        let theirs = try await provider.intents(createdIn: range.lowerBound.addingTimeInterval(-60)..<range.upperBound.addingTimeInterval(60))
        let theirsByID = Dictionary(theirs.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var differences: [Difference] = []
        for payment in ours {
            let found = theirsByID[payment.intentId]
            let intent: ProviderIntent?
            if let found { intent = found } else { intent = try? await provider.intent(payment.intentId) }
            guard let intent else {
                differences.append(Difference(paymentId: payment._id, intentId: payment.intentId, problem: "no such PaymentIntent at Stripe"))
                continue
            }
            let expected: [ProviderIntent.Status] = switch payment.status {
            case .authorized: payment.pending == nil ? [.requiresCapture] : [.requiresCapture, .succeeded, .canceled]
            case .captured, .partiallyRefunded, .refunded: [.succeeded]
            case .voided: [.canceled]
            case .failed: [.canceled, .requiresCapture, .requiresPaymentMethod]
            }
            if !expected.contains(intent.status) {
                differences.append(Difference(paymentId: payment._id, intentId: intent.id,
                                              problem: "ours \(payment.status.rawValue), Stripe's \(intent.status.rawValue)"))
            }
            if payment.status.hasCapture, let net = intent.net, let ours = (payment.captured.map { $0 - payment.refunded })?.minorUnits, ours != net {
                differences.append(Difference(paymentId: payment._id, intentId: intent.id,
                                              problem: "net \(Money(minorUnits: ours, currency: payment.hold.currency)) here, \(Money(minorUnits: net, currency: payment.hold.currency)) at Stripe"))
            }
        }
        let known = Set(ours.map(\.intentId))
        for intent in theirs where range.contains(intent.created) && !known.contains(intent.id) && intent.metadata["request_id"] != nil
            && intent.metadata["ledger"] == ledgerName {
            if try await payments.find(intent: intent.id) == nil {
                differences.append(Difference(paymentId: nil, intentId: intent.id, problem: "a PaymentIntent of request \(intent.metadata["request_id"]!) that no payment records"))
            }
        }
        return differences
    }
}
