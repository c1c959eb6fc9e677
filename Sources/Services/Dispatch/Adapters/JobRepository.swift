import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Jobs in MongoDB (`jobs`). Transitions are compare-and-set updates inside the use cases'
/// transactions; this is where they are read.
struct JobRepository: Sendable {
    static let collectionName = "jobs"
    static let indexes = [
        MongoIndex(name: "provider_status", keys: ["providerId": 1, "status": 1]),
        MongoIndex(name: "client_created", keys: ["clientId": 1, "createdAt": -1]),
    ]

    let jobs: MongoCollection<Job>

    init(mongo: MongoClient) { jobs = mongo.collection(Self.collectionName, as: Job.self) }

    func prepare() async throws { try await jobs.createIndexes(Self.indexes) }

    func find(id: String) async throws -> Job? { try await jobs.findOne(["_id": .string(id)]) }

    /// A party's jobs, newest first; `active` true keeps the open ones, false the finished ones.
    func list(party: String, asProvider: Bool, active: Bool?, limit: Int) async throws -> [Job] {
        var filter: BSONDocument = [asProvider ? "providerId" : "clientId": .string(party)]
        if let active {
            let statuses = JobStatus.active.map { BSONValue.string($0.rawValue) }
            filter["status"] = active ? ["$in": .array(statuses)] : ["$nin": .array(statuses)]
        }
        return try await jobs.find(filter, options: FindOptions(sort: ["createdAt": -1, "_id": 1], limit: limit))
    }

    /// Which of `providers` are on an active job (busy providers get no offers).
    func busy(among providers: [String]) async throws -> Set<String> {
        let ids = BSONValue.array(providers.map { .string($0) })
        let statuses = BSONValue.array(JobStatus.active.map { .string($0.rawValue) })
        return Set(try await jobs.find(["providerId": ["$in": ids], "status": ["$in": statuses]]).map(\.providerId))
    }
}
