import Foundation
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMongo

/// `GET /v1/providers`: providers by category, near a point, by rating and price.
///
/// With `near`, candidates come from the presence index (online and heard from in the last
/// minute, within `radiusKm`); without it, from every provider profile of the category. Profiles
/// (pricing, rating) are read from `provider_profiles`, filtered, sorted and paginated here.
public struct ProviderSearch: Sendable {
    let mongo: MongoClient
    let index: ProviderPresenceIndex

    public init(mongo: MongoClient, index: ProviderPresenceIndex) {
        self.mongo = mongo
        self.index = index
    }

    public enum Sort: String, Sendable { case distance, rating, price }

    public struct Query: Sendable {
        public var category: String
        public var near: Coordinates?
        public var radiusKm: Double = 10
        public var minRating: Double?
        public var maxPrice: Decimal?
        public var sort: Sort
        public var page = 1
        public var limit = 20
    }

    public struct Result: Codable, Sendable, Equatable {
        public var providerId: String
        public var categories: [String]
        public var hourlyRate: String
        public var currency: String
        public var rating: Double?
        public var distanceKm: Double?
    }

    public struct Page: Codable, Sendable {
        public var items: [Result]
        public var total: Int
        public var page: Int
        public var limit: Int
    }

    struct Profile: Codable, Sendable {
        struct Pricing: Codable, Sendable { var currency: String; var hourlyRate: Decimal128 }
        var _id: String
        var categories: [String]
        var pricing: Pricing
        var rating: Double?
    }

    public func search(_ query: Query) async throws -> Page {
        var distances: [String: Double] = [:]
        var filter: BSONDocument = ["categories": .string(query.category)]
        if let near = query.near {
            let nearby = try await index.nearby(category: query.category, at: near, radiusKm: query.radiusKm, limit: 1000)
            guard !nearby.isEmpty else { return Page(items: [], total: 0, page: query.page, limit: query.limit) }
            for candidate in nearby { distances[candidate.providerId] = candidate.distanceKm }
            filter["_id"] = ["$in": .array(nearby.map { .string($0.providerId) })]
        }
        if let minRating = query.minRating { filter["rating"] = ["$gte": .double(minRating)] }
        let profiles = try await mongo.collection(ProviderProfilesReadModel.collectionName, as: Profile.self).find(filter)
        var results = profiles.compactMap { profile -> Result? in
            let rate = profile.pricing.hourlyRate.decimal ?? .greatestFiniteMagnitude
            if let maxPrice = query.maxPrice, rate > maxPrice { return nil }
            return Result(providerId: profile._id, categories: profile.categories, hourlyRate: profile.pricing.hourlyRate.description,
                          currency: profile.pricing.currency, rating: profile.rating, distanceKm: distances[profile._id])
        }
        // Ties are broken by id, so pages never overlap.
        switch query.sort {
        case .distance: results.sort { ($0.distanceKm ?? .infinity, $0.providerId) < ($1.distanceKm ?? .infinity, $1.providerId) }
        case .rating: results.sort { (-($0.rating ?? -1), $0.providerId) < (-($1.rating ?? -1), $1.providerId) }
        case .price:
            results.sort { (Decimal(string: $0.hourlyRate) ?? 0, $0.providerId) < (Decimal(string: $1.hourlyRate) ?? 0, $1.providerId) }
        }
        let start = min((query.page - 1) * query.limit, results.count)
        let end = min(start + query.limit, results.count)
        return Page(items: Array(results[start..<end]), total: results.count, page: query.page, limit: query.limit)
    }

    /// Parses the query string; a bad parameter is a 400 that names it.
    public static func query(from parameters: [String: String]) throws -> Query {
        let bad = DomainError.invalidParameter
        guard let category = parameters["category"], ServiceCategory.validSlug(category) else { throw bad("category", "a category slug is required") }
        var near: Coordinates?
        if let text = parameters["near"] {
            let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
            guard parts.count == 2, let lat = parts[0], let lng = parts[1] else { throw bad("near", "lat,lng") }
            let point = Coordinates(lat: lat, lng: lng)
            if let problem = point.problem { throw bad("near", problem) }
            near = point
        }
        var query = Query(category: category, near: near, sort: near == nil ? .rating : .distance)
        if let text = parameters["radiusKm"] {
            guard let value = Double(text), (0.1...200).contains(value) else { throw bad("radiusKm", "0.1 to 200") }
            guard near != nil else { throw bad("radiusKm", "needs near") }
            query.radiusKm = value
        }
        if let text = parameters["minRating"] {
            guard let value = Double(text), (0...5).contains(value) else { throw bad("minRating", "0 to 5") }
            query.minRating = value
        }
        if let text = parameters["maxPrice"] {
            guard let value = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")), value >= 0,
                  text.range(of: "^[0-9]+(\\.[0-9]+)?$", options: .regularExpression) != nil else { throw bad("maxPrice", "a decimal amount like 40.00") }
            query.maxPrice = value
        }
        if let text = parameters["sort"] {
            guard let value = Sort(rawValue: text) else { throw bad("sort", "distance, rating or price") }
            guard value != .distance || near != nil else { throw bad("sort", "distance needs near") }
            query.sort = value
        }
        if let text = parameters["page"] {
            guard let value = Int(text), value >= 1, value <= 10_000 else { throw bad("page", "an integer from 1") }
            query.page = value
        }
        if let text = parameters["limit"] {
            guard let value = Int(text), (1...100).contains(value) else { throw bad("limit", "an integer from 1 to 100") }
            query.limit = value
        }
        return query
    }
}
