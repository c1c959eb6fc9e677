import Foundation
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo

/// Catalog and provider presence use cases.
public final class DispatchService: Sendable {
    let mongo: MongoClient
    let publisher: any EventPublisher
    let directory: any ProviderDirectory
    public let policy: DispatchPolicy
    public let cancellation: CancellationPolicy
    public let ranking: Ranking
    var categories: MongoCollection<ServiceCategory> { mongo.collection("categories", as: ServiceCategory.self) }

    public init(mongo: MongoClient, publisher: any EventPublisher, directory: any ProviderDirectory,
                policy: DispatchPolicy = .init(), cancellation: CancellationPolicy = .init(), ranking: Ranking = .init()) {
        self.ranking = ranking
        self.policy = policy
        self.cancellation = cancellation
        self.mongo = mongo
        self.publisher = publisher
        self.directory = directory
    }

    // MARK: catalog

    public struct CategoryInput: Codable, Sendable {
        public var slug: String?
        public var name: String
        public var description: String?

        public init(slug: String?, name: String, description: String? = nil) {
            self.slug = slug
            self.name = name
            self.description = description
        }
    }

    public func listCategories() async throws -> [CategoryView] {
        try await categories.find(["status": "active"], options: FindOptions(sort: ["name": 1])).map(\.view)
    }

    public func createCategory(_ caller: Caller, _ input: CategoryInput) async throws -> CategoryView {
        guard caller.role == .admin else { throw DomainError.forbidden }
        guard let slug = input.slug, ServiceCategory.validSlug(slug) else {
            throw DomainError.validation("slug: lower-case letters, digits and '-', up to 64")
        }
        let name = try Self.validName(input.name)
        let now = Date()
        let category = ServiceCategory(_id: slug, name: name, description: input.description, status: .active, createdAt: now, updatedAt: now)
        do { try await categories.insert(category) } catch let error as MongoError where error.isDuplicateKey {
            throw DomainError.conflict("category_exists", "a category with slug '\(slug)' exists")
        }
        return category.view
    }

    public func renameCategory(_ caller: Caller, slug: String, _ input: CategoryInput) async throws -> CategoryView {
        guard caller.role == .admin else { throw DomainError.forbidden }
        var set: BSONDocument = ["name": .string(try Self.validName(input.name)), "updatedAt": .date(Date())]
        if let description = input.description { set["description"] = .string(description) }
        guard let updated = try await categories.findOneAndUpdate(["_id": .string(slug), "status": "active"], ["$set": .document(set)]) else {
            throw DomainError.notFound("category '\(slug)'")
        }
        return updated.view
    }

    public func retireCategory(_ caller: Caller, slug: String) async throws {
        guard caller.role == .admin else { throw DomainError.forbidden }
        guard try await categories.findOneAndUpdate(["_id": .string(slug), "status": "active"],
                                                     ["$set": ["status": "retired", "updatedAt": .date(Date())]]) != nil else {
            throw DomainError.notFound("category '\(slug)'")
        }
    }

    static func validName(_ name: String) throws -> String {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...100).contains(trimmed.count) else { throw DomainError.validation("name: 1 to 100 characters") }
        return trimmed
    }

    // MARK: provider presence

    /// Online or offline for matching. Going online needs a provider profile with categories.
    public func setAvailability(_ caller: Caller, online: Bool, traceparent: String?) async throws -> DispatchEvents.AvailabilityChanged {
        guard caller.role == .provider else { throw DomainError(kind: .forbidden, code: "forbidden", title: "Only providers have an availability") }
        let offered = try await directory.categories(ofProvider: caller.userID) ?? []
        if online && offered.isEmpty {
            throw DomainError.conflict("profile_required", "set a provider profile with categories before going online")
        }
        let change = DispatchEvents.AvailabilityChanged(providerId: caller.userID, online: online, categories: offered, at: Date())
        try await publisher.publish(try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.availabilityChanged,
                                                      aggregateID: caller.userID, payload: change, traceparent: traceparent), to: Topic.providerLocations)
        return change
    }

    /// A position report; published keyed by provider (the realtime gateway will publish the same event).
    public func reportLocation(_ caller: Caller, _ point: Coordinates, traceparent: String?) async throws {
        guard caller.role == .provider else { throw DomainError(kind: .forbidden, code: "forbidden", title: "Only providers report a location") }
        if let problem = point.problem { throw DomainError.validation(problem) }
        let update = DispatchEvents.LocationUpdated(providerId: caller.userID, lat: point.lat, lng: point.lng, at: Date())
        try await publisher.publish(try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.locationUpdated,
                                                      aggregateID: caller.userID, payload: update, traceparent: traceparent), to: Topic.providerLocations)
    }

    public func prepare() async throws {
        // The slug is the _id: uniqueness comes with it.
        try await categories.createIndexes([MongoIndex(name: "status_name", keys: ["status": 1, "name": 1])])
        try await requests.createIndexes(Self.requestIndexes)
        try await offers.createIndexes(Self.offerIndexes)
        try await jobs.createIndexes(Self.jobIndexes)
        try await reviews.createIndexes(Self.reviewIndexes)
        try await states.createIndexes([MongoIndex(name: "due", keys: ["status": 1, "nextWaveAt": 1])])
        try await Outbox.prepare(mongo)
    }
}
