import Foundation

/// What the analytics worker remembers between events, to measure durations and to put an event
/// in its category and area (its own collections; it reads no other module's data).
public struct RequestFact: Codable, Sendable, Equatable {
    public var _id: String
    public var createdAt: Date
    public var categoryId: String
    public var area: String
    public var clientId: String
}

public struct OfferFact: Codable, Sendable, Equatable {
    public var _id: String
    public var providerId: String
    public var sentAt: Date
}

public struct JobFact: Codable, Sendable, Equatable {
    public var _id: String
    public var requestId: String
    public var providerId: String
    public var clientId: String
    public var assignedAt: Date
    public var categoryId: String?
    public var area: String?
}

public struct ProviderFact: Codable, Sendable, Equatable {
    public var _id: String
    public var timeZone: String?
}

/// What the projector needs to know about one event's surroundings.
public struct EventFacts: Sendable {
    public var request: RequestFact?
    public var offer: OfferFact?
    public var job: JobFact?
    /// Completed jobs between this job's provider and client before this one.
    public var earlierCompletedWithClient = 0

    public init(request: RequestFact? = nil, offer: OfferFact? = nil, job: JobFact? = nil, earlierCompletedWithClient: Int = 0) {
        self.request = request
        self.offer = offer
        self.job = job
        self.earlierCompletedWithClient = earlierCompletedWithClient
    }
}

/// What an event changes in the remembered facts.
public enum FactChange: Sendable, Equatable {
    case request(RequestFact)
    case offer(OfferFact)
    case job(JobFact)
    case provider(ProviderFact)
    case completedPair(providerID: String, clientID: String)
}
