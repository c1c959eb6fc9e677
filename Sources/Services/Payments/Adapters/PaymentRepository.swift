import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Payments in MongoDB (`payments`), one per service request. Every write replaces the document
/// compare-and-set on its `version`, inside the transaction that also writes its ledger
/// transaction and outbox event.
struct PaymentRepository: Sendable {
    static let collectionName = "payments"
    static let indexes = [
        MongoIndex(name: "request", keys: ["requestId": 1], unique: true),
        MongoIndex(name: "intent", keys: ["intentId": 1], unique: true),
        MongoIndex(name: "job", keys: ["jobId": 1]),
        MongoIndex(name: "pending_due", keys: ["pending.nextAttemptAt": 1]),
        MongoIndex(name: "unclaimed", keys: ["status": 1, "requestSeen": 1, "createdAt": 1]),
        MongoIndex(name: "provider_status", keys: ["providerId": 1, "status": 1]),
        MongoIndex(name: "created", keys: ["createdAt": 1]),
    ]

    let payments: MongoCollection<Payment>

    init(mongo: MongoClient) { payments = mongo.collection(Self.collectionName, as: Payment.self) }

    func prepare() async throws { try await payments.createIndexes(Self.indexes) }

    func find(id: String) async throws -> Payment? { try await payments.findOne(["_id": .string(id)]) }
    func find(request id: String) async throws -> Payment? { try await payments.findOne(["requestId": .string(id)]) }
    func find(intent id: String) async throws -> Payment? { try await payments.findOne(["intentId": .string(id)]) }
    func find(job id: String) async throws -> [Payment] { try await payments.find(["jobId": .string(id)]) }

    /// Payments whose pending Stripe call is due (again).
    func due(now: Date, limit: Int = 50) async throws -> [Payment] {
        try await payments.find(["pending.nextAttemptAt": ["$lte": .date(now)]], options: FindOptions(sort: ["pending.nextAttemptAt": 1], limit: limit))
    }

    /// Holds that no request claimed within `age`.
    func unclaimed(before: Date, limit: Int = 50) async throws -> [Payment] {
        try await payments.find(["status": "authorized", "requestSeen": false, "pending": .null, "createdAt": ["$lt": .date(before)]],
                                options: FindOptions(limit: limit))
    }

    func authorized(provider: String) async throws -> [Payment] {
        try await payments.find(["providerId": .string(provider), "status": "authorized"])
    }

    func created(in range: Range<Date>) async throws -> [Payment] {
        try await payments.find(["createdAt": ["$gte": .date(range.lowerBound), "$lt": .date(range.upperBound)]])
    }

    func all(status: Payment.Status) async throws -> [Payment] { try await payments.find(["status": .string(status.rawValue)]) }

    static let optionalKeys = ["jobId", "providerId", "categoryId", "captured", "platformFee", "pending", "failureReason"]

    /// Writes `payment` over the version it was read at; false when someone wrote it meanwhile.
    static func replace(_ payment: Payment, readAt version: Int, in session: MongoSession) throws -> Bool {
        var document = try BSONEncoder().encode(payment)
        document["_id"] = nil
        // The encoder leaves nil optionals out: unset them, or the old values would stay.
        var unset = BSONDocument()
        for key in optionalKeys where document[key] == nil { unset[key] = "" }
        var update: BSONDocument = ["$set": .document(document)]
        if !unset.isEmpty { update["$unset"] = .document(unset) }
        return try session.collection(collectionName, as: Payment.self)
            .findOneAndUpdate(["_id": .string(payment._id), "version": .int64(Int64(version))], update) != nil
    }
}

/// The platform's Stripe customer of each user (`payment_customers`) and their default card.
struct PaymentCustomer: Codable, Sendable, Equatable {
    var _id: String
    var customerId: String
    var defaultPaymentMethod: String?
    var createdAt: Date
}

struct CustomerRepository: Sendable {
    static let collectionName = "payment_customers"
    let customers: MongoCollection<PaymentCustomer>

    init(mongo: MongoClient) { customers = mongo.collection(Self.collectionName, as: PaymentCustomer.self) }

    func find(user: String) async throws -> PaymentCustomer? { try await customers.findOne(["_id": .string(user)]) }

    /// Records the user's customer; the first writer wins (a concurrent second gets the first's).
    func insertOrExisting(_ customer: PaymentCustomer) async throws -> PaymentCustomer {
        do {
            try await customers.insert(customer)
            return customer
        } catch let error as MongoError where error.isDuplicateKey {
            return try await find(user: customer._id) ?? customer
        }
    }

    func setDefault(user: String, paymentMethod: String?) async throws {
        _ = try await customers.updateOne(["_id": .string(user)], ["$set": ["defaultPaymentMethod": paymentMethod.map(BSONValue.string) ?? .null]])
    }
}

/// The double-entry ledger (`ledger_transactions`): inserted, never updated.
struct LedgerRepository: Sendable {
    static let collectionName = "ledger_transactions"
    static let indexes = [
        MongoIndex(name: "account_at", keys: ["accounts": 1, "at": -1, "_id": 1]),
        MongoIndex(name: "payment", keys: ["paymentId": 1]),
    ]
    let transactions: MongoCollection<LedgerTransaction>

    init(mongo: MongoClient) { transactions = mongo.collection(Self.collectionName, as: LedgerTransaction.self) }

    func prepare() async throws { try await transactions.createIndexes(Self.indexes) }

    /// Inserts the transaction unless one with its id exists (the operation was applied already).
    /// Returns whether it was inserted.
    static func record(_ transaction: LedgerTransaction, in session: MongoSession) throws -> Bool {
        let collection = session.collection(collectionName, as: LedgerTransaction.self)
        guard try collection.count(["_id": .string(transaction._id)]) == 0 else { return false }
        try collection.insert(transaction)
        return true
    }

    func page(account: String, before: (Date, String)?, limit: Int) async throws -> [LedgerTransaction] {
        var filter: BSONDocument = ["accounts": .string(account)]
        if let (at, id) = before {
            filter["$or"] = .array([["at": ["$lt": .date(at)]], ["at": .date(at), "_id": ["$gt": .string(id)]]])
        }
        return try await transactions.find(filter, options: FindOptions(sort: ["at": -1, "_id": 1], limit: limit))
    }

    func all(account: String) async throws -> [LedgerTransaction] { try await transactions.find(["accounts": .string(account)]) }
    func all() async throws -> [LedgerTransaction] { try await transactions.find() }
    func of(payment id: String) async throws -> [LedgerTransaction] { try await transactions.find(["paymentId": .string(id)]) }
}

/// Stripe's webhook events as received (`payment_webhook_events`): the raw body, stored before
/// the 2xx, processed afterwards by the `payments-webhooks` worker (claimed with a lease).
struct WebhookEvent: Codable, Sendable, Equatable {
    var _id: String
    var type: String
    var body: String
    var receivedAt: Date
    var processedAt: Date?
    var outcome: String?
    var attempts: Int
    var leaseUntil: Date?
}

struct WebhookEventRepository: Sendable {
    static let collectionName = "payment_webhook_events"
    static let indexes = [MongoIndex(name: "unprocessed", keys: ["processedAt": 1, "leaseUntil": 1, "receivedAt": 1])]
    let events: MongoCollection<WebhookEvent>

    init(mongo: MongoClient) { events = mongo.collection(Self.collectionName, as: WebhookEvent.self) }

    func prepare() async throws { try await events.createIndexes(Self.indexes) }

    /// Stores an event; false when it was stored before (Stripe delivers duplicates).
    func store(_ event: WebhookEvent) async throws -> Bool {
        do {
            try await events.insert(event)
            return true
        } catch let error as MongoError where error.isDuplicateKey {
            return false
        }
    }

    /// The oldest unprocessed event nobody holds, leased to the caller for `lease`.
    func claim(now: Date, lease: TimeInterval) async throws -> WebhookEvent? {
        try await events.findOneAndUpdate(
            ["processedAt": .null, "$or": .array([["leaseUntil": .null], ["leaseUntil": ["$lt": .date(now)]]])],
            ["$set": ["leaseUntil": .date(now.addingTimeInterval(lease))], "$inc": ["attempts": 1]], sort: ["receivedAt": 1])
    }

    func find(id: String) async throws -> WebhookEvent? { try await events.findOne(["_id": .string(id)]) }

    func finish(id: String, outcome: String, at: Date) async throws {
        _ = try await events.updateOne(["_id": .string(id)], ["$set": ["processedAt": .date(at), "outcome": .string(outcome), "leaseUntil": .null]])
    }

    /// Makes a stored event unprocessed again (`marketplace payments replay`).
    func reopen(id: String) async throws -> Bool {
        try await events.updateOne(["_id": .string(id)], ["$set": ["processedAt": .null, "outcome": .null, "leaseUntil": .null]]).matched > 0
    }
}
