import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Reviews in MongoDB (`reviews`; `_id` = `<jobId>:<role>`, so a party reviews a job once).
struct ReviewRepository: Sendable {
    static let collectionName = "reviews"
    static let indexes = [
        MongoIndex(name: "hidden_due", keys: ["visible": 1, "windowClosesAt": 1]),
        MongoIndex(name: "subject_visible", keys: ["subjectId": 1, "visible": 1, "createdAt": -1]),
    ]

    let reviews: MongoCollection<Review>

    init(mongo: MongoClient) { reviews = mongo.collection(Self.collectionName, as: Review.self) }

    func prepare() async throws { try await reviews.createIndexes(Self.indexes) }

    /// Hidden reviews whose window closed by `now` (published alone).
    func due(now: Date, limit: Int = 100) async throws -> [Review] {
        try await reviews.find(["visible": false, "windowClosesAt": ["$lte": .date(now)]], options: FindOptions(limit: limit))
    }

    func of(job: String) async throws -> [Review] {
        try await reviews.find(["jobId": .string(job)], options: FindOptions(sort: ["createdAt": 1]))
    }

    /// A provider's visible reviews by clients, newest first.
    func visible(aboutProvider provider: String, limit: Int) async throws -> [Review] {
        try await reviews.find(["subjectId": .string(provider), "authorRole": "client", "visible": true],
                               options: FindOptions(sort: ["createdAt": -1], limit: limit))
    }
}
