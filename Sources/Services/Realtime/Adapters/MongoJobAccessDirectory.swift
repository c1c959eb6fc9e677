import Foundation
import MarketplaceMongo

/// Reads job parties and state from the Dispatch service's `jobs` collection.
public struct MongoJobAccessDirectory: JobAccessDirectory {
    struct JobDocument: Codable, Sendable {
        var _id: String
        var clientId: String
        var providerId: String
        var status: String
    }

    let mongo: MongoClient
    public init(mongo: MongoClient) { self.mongo = mongo }

    public func access(toJob id: String) async throws -> JobAccess? {
        guard let job = try await mongo.collection("jobs", as: JobDocument.self).findOne(["_id": .string(id)]) else { return nil }
        return JobAccess(clientId: job.clientId, providerId: job.providerId, active: job.status != "completed" && job.status != "cancelled")
    }
}
