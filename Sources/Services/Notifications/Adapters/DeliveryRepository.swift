import Foundation
import MarketplaceContracts
import MarketplaceMessaging
import MarketplaceMongo

/// The delivery log (`notification_deliveries`) and the waiting sends (`notification_schedule`).
public struct DeliveryRepository: Sendable {
    public static let collectionName = "notification_deliveries"
    public static let scheduleCollectionName = "notification_schedule"
    let mongo: MongoClient

    public init(mongo: MongoClient) { self.mongo = mongo }

    var deliveries: MongoCollection<DeliveryRecord> { mongo.collection(Self.collectionName) }
    var schedule: MongoCollection<ScheduledSend> { mongo.collection(Self.scheduleCollectionName) }

    public func prepare() async throws {
        try await deliveries.createIndexes([MongoIndex(name: "user_created", keys: ["userId": 1, "createdAt": -1])])
        try await schedule.createIndexes([
            MongoIndex(name: "due", keys: ["status": 1, "dueAt": 1]),
            MongoIndex(name: "user_job", keys: ["userId": 1, "jobId": 1, "status": 1]),
        ])
    }

    public func find(_ id: String) async throws -> DeliveryRecord? { try await deliveries.findOne(["_id": .string(id)]) }

    public func log(userID: String, limit: Int) async throws -> [DeliveryRecord] {
        try await deliveries.find(["userId": .string(userID)], options: FindOptions(sort: ["createdAt": -1, "_id": -1], limit: limit))
    }

    /// Takes the delivery for one attempt: only while it is not final (a redelivered request whose
    /// send completed finds nothing here). A `sending` one is taken again: its sender died mid-send.
    public func claim(_ id: String, now: Date) async throws -> DeliveryRecord? {
        try await deliveries.findOneAndUpdate(
            ["_id": .string(id), "status": ["$in": [.string(DeliveryRecord.Status.queued.rawValue), .string(DeliveryRecord.Status.sending.rawValue),
                                                   .string(DeliveryRecord.Status.retrying.rawValue)]]],
            ["$set": ["status": .string(DeliveryRecord.Status.sending.rawValue), "updatedAt": .date(now)], "$inc": ["attempts": 1]])
    }

    public func finish(_ id: String, status: DeliveryRecord.Status, providerMessageID: String? = nil, error: String? = nil, now: Date) async throws {
        _ = try await deliveries.updateOne(["_id": .string(id)], ["$set": .document(Self.outcome(status, providerMessageID: providerMessageID, error: error, now: now))])
    }

    /// The outcome and its event together (the event through the outbox, in the same transaction).
    public func finish(_ id: String, status: DeliveryRecord.Status, providerMessageID: String?, error: String?, now: Date,
                       announcing event: EventEnvelope) async throws {
        let set = Self.outcome(status, providerMessageID: providerMessageID, error: error, now: now)
        try await mongo.withTransaction { session in
            try session.collection(Self.collectionName, as: DeliveryRecord.self).updateOne(["_id": .string(id)], ["$set": .document(set)])
            try Outbox.append(event, to: .notifications, in: session)
        }
    }

    static func outcome(_ status: DeliveryRecord.Status, providerMessageID: String?, error: String?, now: Date) -> BSONDocument {
        var set: BSONDocument = ["status": .string(status.rawValue), "updatedAt": .date(now)]
        if status == .sent { set["sentAt"] = .date(now) }
        if let providerMessageID { set["providerMessageId"] = .string(providerMessageID) }
        if let error { set["lastError"] = .string(String(error.prefix(500))) }
        return set
    }

    /// Another attempt follows: the attempt's error recorded, the delivery claimable again.
    public func retrying(_ id: String, error: String, now: Date) async throws {
        _ = try await deliveries.updateOne(["_id": .string(id)], ["$set": ["status": .string(DeliveryRecord.Status.retrying.rawValue),
                                                                          "lastError": .string(String(error.prefix(500))), "updatedAt": .date(now)]])
    }

    // MARK: waiting sends

    public func due(now: Date, limit: Int) async throws -> [ScheduledSend] {
        try await schedule.find(["status": .string(ScheduledSend.Status.pending.rawValue), "dueAt": ["$lte": .date(now)]],
                                options: FindOptions(sort: ["dueAt": 1], limit: limit))
    }

    /// Pending sends about `jobID` to `userID` no longer apply (the job moved on): cancelled with
    /// their delivery records, in the transaction of the event that moved the job. Returns how many.
    @discardableResult
    static func cancelPending(userID: String, jobID: String, now: Date, in session: MongoSession) throws -> Int {
        let schedule = session.collection(scheduleCollectionName, as: ScheduledSend.self)
        let filter: BSONDocument = ["userId": .string(userID), "jobId": .string(jobID), "status": .string(ScheduledSend.Status.pending.rawValue)]
        let pending = try schedule.find(filter)
        guard !pending.isEmpty else { return 0 }
        try schedule.updateMany(filter, ["$set": ["status": .string(ScheduledSend.Status.cancelled.rawValue)]])
        try session.collection(collectionName, as: DeliveryRecord.self).updateMany(
            ["_id": ["$in": .array(pending.map { .string($0._id) })], "status": .string(DeliveryRecord.Status.scheduled.rawValue)],
            ["$set": ["status": .string(DeliveryRecord.Status.cancelled.rawValue), "lastError": "the job moved on", "updatedAt": .date(now)]])
        return pending.count
    }

    /// Ends a waiting send that will not go (its notification was read in the app).
    public func cancel(_ send: ScheduledSend, reason: String, now: Date) async throws {
        _ = try await schedule.updateOne(["_id": .string(send._id), "status": .string(ScheduledSend.Status.pending.rawValue)],
                                         ["$set": ["status": .string(ScheduledSend.Status.cancelled.rawValue)]])
        try await finish(send._id, status: .cancelled, error: reason, now: now)
    }
}
