import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Dispatch's answer to "who may see this job": its parties and whether it is still active, from
/// Dispatch's own `jobs` collection. Provided to other modules as their `JobAccessDirectory`.
public struct MongoJobAccessDirectory: JobAccessDirectory {
    struct JobDocument: Codable, Sendable {
        var _id: String
        var clientId: String
        var providerId: String
        var status: JobStatus
        var updatedAt: Date
        var cancellationReason: String?
    }

    let mongo: MongoClient
    public init(mongo: MongoClient) { self.mongo = mongo }

    public func access(toJob id: String) async throws -> JobAccess? {
        guard let job = try await mongo.collection("jobs", as: JobDocument.self).findOne(["_id": .string(id)]) else { return nil }
        return JobAccess(clientId: job.clientId, providerId: job.providerId, status: job.status, statusChangedAt: job.updatedAt,
                         cancellationReason: job.cancellationReason)
    }
}
