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
    /// When this job's provider first completed a job for its client (as far as folded so far):
    /// every completion but the earliest is a repeat, whatever order they are folded in.
    public var firstCompletionWithClient: Date?

    public init(request: RequestFact? = nil, offer: OfferFact? = nil, job: JobFact? = nil, firstCompletionWithClient: Date? = nil) {
        self.request = request
        self.offer = offer
        self.job = job
        self.firstCompletionWithClient = firstCompletionWithClient
    }
}

/// What an event changes in the remembered facts.
public enum FactChange: Sendable, Equatable {
    case request(RequestFact)
    case offer(OfferFact)
    case job(JobFact)
    case provider(ProviderFact)
    case completedPair(providerID: String, clientID: String, at: Date)
}
