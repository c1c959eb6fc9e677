import Foundation
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo

/// The Dispatch use cases: the catalog and provider presence (here), requests, offers and waves,
/// jobs and reviews (`DispatchService+<Aspect>.swift`). HTTP-free; documents through the
/// repositories in Adapters/, events through the outbox or the publisher.
public final class DispatchService: Sendable {
    let mongo: MongoClient
    let publisher: any EventPublisher
    let directory: any ProviderDirectory
    /// Card holds for new requests (the Payments module); without it requests carry no hold.
    let holds: (any PaymentHolds)?
    public let policy: DispatchPolicy
    public let cancellation: CancellationPolicy
    public let ranking: Ranking
    let categories: CategoryRepository
    let requests: ServiceRequestRepository
    let offers: OfferRepository
    let jobs: JobRepository
    let reviews: ReviewRepository
    let states: DispatchStateRepository
    let offerStats: ProviderOfferStatsRepository

    public init(mongo: MongoClient, publisher: any EventPublisher, directory: any ProviderDirectory, holds: (any PaymentHolds)? = nil,
                policy: DispatchPolicy = .init(), cancellation: CancellationPolicy = .init(), ranking: Ranking = .init()) {
        self.holds = holds
        self.ranking = ranking
        self.policy = policy
        self.cancellation = cancellation
        self.mongo = mongo
        self.publisher = publisher
        self.directory = directory
        categories = CategoryRepository(mongo: mongo)
        requests = ServiceRequestRepository(mongo: mongo)
        offers = OfferRepository(mongo: mongo)
        jobs = JobRepository(mongo: mongo)
        reviews = ReviewRepository(mongo: mongo)
        states = DispatchStateRepository(mongo: mongo)
        offerStats = ProviderOfferStatsRepository(mongo: mongo)
    }

    // MARK: catalog

    public struct CategoryInput: Codable, Sendable {
        public var slug: String?
        public var name: String
        public var description: String?
        /// The hold for requests without a budget (payments); the platform's default when unset.
        public var defaultHold: Money?

        public init(slug: String?, name: String, description: String? = nil, defaultHold: Money? = nil) {
            self.slug = slug
            self.name = name
            self.description = description
            self.defaultHold = defaultHold
        }

        func validHold() throws -> Money? {
            guard let hold = defaultHold else { return nil }
            if hold.currency.range(of: "^[A-Z]{3}$", options: .regularExpression) == nil { throw DomainError.validation("defaultHold.currency: an ISO 4217 code like EUR") }
            guard hold.amount > 0, hold.minorUnits != nil else { throw DomainError.validation("defaultHold.amount: a positive amount in whole minor units") }
            return hold
        }
    }

    public func listCategories() async throws -> [CategoryView] {
        try await categories.active().map(\.view)
    }

    public func createCategory(_ caller: Caller, _ input: CategoryInput) async throws -> CategoryView {
        guard caller.role == .admin else { throw DomainError.forbidden }
        guard let slug = input.slug, ServiceCategory.validSlug(slug) else {
            throw DomainError.validation("slug: lower-case letters, digits and '-', up to 64")
        }
        let name = try Self.validName(input.name)
        let now = Date()
        let category = ServiceCategory(_id: slug, name: name, description: input.description, defaultHold: try input.validHold(), status: .active,
                                       createdAt: now, updatedAt: now)
        do { try await categories.insert(category) } catch let error as MongoError where error.isDuplicateKey {
            throw DomainError.conflict("category_exists", "a category with slug '\(slug)' exists")
        }
        return category.view
    }

    public func renameCategory(_ caller: Caller, slug: String, _ input: CategoryInput) async throws -> CategoryView {
        guard caller.role == .admin else { throw DomainError.forbidden }
        var set: BSONDocument = ["name": .string(try Self.validName(input.name)), "updatedAt": .date(Date())]
        if let description = input.description { set["description"] = .string(description) }
        if let hold = try input.validHold() { set["defaultHold"] = try BSONEncoder().encodeValue(hold) }
        guard let updated = try await categories.updateActive(slug, set: set) else {
            throw DomainError.notFound("category '\(slug)'")
        }
        return updated.view
    }

    public func retireCategory(_ caller: Caller, slug: String) async throws {
        guard caller.role == .admin else { throw DomainError.forbidden }
        guard try await categories.updateActive(slug, set: ["status": "retired", "updatedAt": .date(Date())]) != nil else {
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
        try await categories.prepare()
        try await requests.prepare()
        try await offers.prepare()
        try await jobs.prepare()
        try await reviews.prepare()
        try await states.prepare()
        try await Outbox.prepare(mongo)
    }
}
