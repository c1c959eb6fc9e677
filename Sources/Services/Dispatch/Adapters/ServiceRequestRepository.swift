import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Clients' service requests in MongoDB (`service_requests`). Status changes are compare-and-set
/// updates inside the use cases' transactions (`session.collection(collectionName, ...)`).
struct ServiceRequestRepository: Sendable {
    static let collectionName = "service_requests"
    static let indexes = [
        MongoIndex(name: "client_created", keys: ["clientId": 1, "createdAt": -1]),
        MongoIndex(name: "status_created", keys: ["status": 1, "createdAt": 1]),
    ]

    let requests: MongoCollection<ServiceRequest>

    init(mongo: MongoClient) { requests = mongo.collection(Self.collectionName, as: ServiceRequest.self) }

    func prepare() async throws { try await requests.createIndexes(Self.indexes) }

    func find(id: String) async throws -> ServiceRequest? { try await requests.findOne(["_id": .string(id)]) }

    /// One page of a client's requests, newest first, and how many there are in all.
    func page(client: String, status: ServiceRequest.Status?, page: Int, limit: Int) async throws -> (items: [ServiceRequest], total: Int) {
        var filter: BSONDocument = ["clientId": .string(client)]
        if let status { filter["status"] = .string(status.rawValue) }
        async let total = requests.count(filter)
        async let items = requests.find(filter, options: FindOptions(sort: ["createdAt": -1, "_id": 1], skip: (page - 1) * limit, limit: limit))
        return (try await items, try await total)
    }
}
