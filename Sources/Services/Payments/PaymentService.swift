import Foundation
import Logging
import MarketplaceContracts
import MarketplaceMessaging
import MarketplaceMongo

/// Payments: a hold on the client's card when a request is created, captured, voided or refunded
/// as the job moves (`PaymentPolicy`), every capture and refund split into a double-entry ledger,
/// and Stripe's webhooks verified, stored and folded in afterwards.
///
/// Every Stripe call that changes money is first recorded on the payment as its pending
/// operation (with the idempotency key it will be sent with), then made, then its result written
/// with the ledger transaction and the outbox event in one MongoDB transaction. A call that gets
/// no answer is made again with the same key until Stripe answers; an answer that does not fit
/// (the call was made before) is settled by reading the PaymentIntent back (`converge`).
public final class PaymentService: Sendable {
    public struct Settings: Sendable {
        public var policy: PaymentPolicy
        /// Waits between attempts of a pending operation: doubling from `initialBackoff` to `maxBackoff`, with jitter.
        public var initialBackoff: TimeInterval
        public var maxBackoff: TimeInterval

        public init(policy: PaymentPolicy = .init(), initialBackoff: TimeInterval = 1, maxBackoff: TimeInterval = 300) {
            self.policy = policy
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    public let mongo: MongoClient
    public let provider: any PaymentProvider
    public let settings: Settings
    /// Names this platform's ledger (its MongoDB database) in every PaymentIntent's metadata, so
    /// that reconciliation counts only this platform's intents of a shared Stripe account.
    public let ledgerName: String
    let webhookSignature: StripeSignature
    let contacts: (any ContactDirectory)?
    let payments: PaymentRepository
    let customers: CustomerRepository
    let ledger: LedgerRepository
    let webhooks: WebhookEventRepository
    let metrics = PaymentMetrics()
    let logger: Logger

    public init(mongo: MongoClient, provider: any PaymentProvider, webhookSecrets: [String], contacts: (any ContactDirectory)? = nil,
                settings: Settings = .init(), logger: Logger = Logger(label: "payments")) {
        self.mongo = mongo
        self.ledgerName = mongo.database
        self.provider = provider
        self.settings = settings
        self.webhookSignature = StripeSignature(secrets: webhookSecrets)
        self.contacts = contacts
        self.logger = logger
        payments = PaymentRepository(mongo: mongo)
        customers = CustomerRepository(mongo: mongo)
        ledger = LedgerRepository(mongo: mongo)
        webhooks = WebhookEventRepository(mongo: mongo)
    }

    public func prepare() async throws {
        try await payments.prepare()
        try await ledger.prepare()
        try await webhooks.prepare()
    }

    var policy: PaymentPolicy { settings.policy }

    /// The payment for the caller: its client, its provider or an admin; 404 for anyone else.
    public func payment(_ caller: Caller, id: String) async throws -> PaymentView {
        guard let payment = try await payments.find(id: id), Self.visible(payment, to: caller) else {
            throw DomainError.notFound("payment '\(id)'")
        }
        return payment.view
    }

    /// The payments of a job, for its parties and admins (404 for anyone else).
    public func payments(_ caller: Caller, jobID: String) async throws -> [PaymentView] {
        let found = try await payments.find(job: jobID).filter { Self.visible($0, to: caller) }
        guard !found.isEmpty else { throw DomainError.notFound("payments of job '\(jobID)'") }
        return found.map(\.view)
    }

    static func visible(_ payment: Payment, to caller: Caller) -> Bool {
        caller.role == .admin || payment.clientId == caller.userID || payment.providerId == caller.userID
    }

    // MARK: writing a change

    /// Writes `payment` (read at `version`) with its ledger transaction and its event, in one
    /// transaction. False when the payment changed meanwhile (nothing written).
    func commit(_ payment: Payment, readAt version: Int, ledger transaction: LedgerTransaction? = nil,
                event: (type: EventType, change: PaymentEvents.PaymentChanged)? = nil, traceparent: String? = nil,
                inbox: (Inbox, EventEnvelope)? = nil) async throws -> Bool {
        var next = payment
        next.version = version + 1
        next.updatedAt = Date()
        let envelope = try event.map {
            try EventEnvelope(source: PaymentEvents.source, type: $0.type, aggregateID: payment._id, payload: $0.change, traceparent: traceparent)
        }
        let write: @Sendable (MongoSession) throws -> Bool = { [next] session in
            guard try PaymentRepository.replace(next, readAt: version, in: session) else { return false }
            if let transaction { _ = try LedgerRepository.record(transaction, in: session) }
            if let envelope { try Outbox.append(envelope, to: Topic.payments, in: session) }
            return true
        }
        if let (inbox, event) = inbox {
            // The inbox record and the change together: a redelivered event changes nothing.
            return try await inbox.processOnce(event) { session in
                guard try write(session) else { throw ConcurrentChange() }
            }
        }
        return try await mongo.withTransaction(write)
    }

    struct ConcurrentChange: Error {}
}
