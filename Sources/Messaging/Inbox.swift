import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// The inbox: a consumer applies an event at most once even when Kafka redelivers it.
/// The event id is inserted into the consumer's inbox collection in the same transaction as the
/// handler's writes; a second delivery hits the unique `_id` and is skipped.
public struct Inbox: Sendable {
    public let mongo: MongoClient
    public let consumer: String

    public init(mongo: MongoClient, consumer: String) {
        self.mongo = mongo
        self.consumer = consumer
    }

    var collection: String { "inbox_\(consumer)" }

    private struct Entry: Codable, Sendable {
        var _id: String
        var type: String
        var processedAt: Date
    }

    /// Runs `apply` inside a transaction together with the inbox record. Returns false (and runs
    /// nothing) when the event was already processed.
    @discardableResult
    public func processOnce(_ event: EventEnvelope, _ apply: @escaping @Sendable (MongoSession) throws -> Void) async throws -> Bool {
        let collection = self.collection
        do {
            try await mongo.withTransaction { session in
                try session.collection(collection, as: Entry.self)
                    .insert(Entry(_id: event.id, type: event.type.rawValue, processedAt: Date()))
                try apply(session)
            }
            return true
        } catch let error as MongoError where error.isDuplicateKey {
            // Either the inbox record (a redelivery) or the handler's own unique index: check which.
            if try await alreadyProcessed(event.id) { return false }
            throw error
        }
    }

    public func alreadyProcessed(_ eventID: String) async throws -> Bool {
        try await mongo.collection(collection, as: Entry.self).count(["_id": .string(eventID)]) > 0
    }
}
