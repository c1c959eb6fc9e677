import Foundation
import MarketplaceContracts

/// A job offered to one provider for one request. Offers go out in waves; exactly one can be
/// accepted per request (compare-and-set on the request), the others are withdrawn.
public struct Offer: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case pending, accepted, declined, withdrawn, expired }
    public var _id: String
    public var requestId: String
    public var providerId: String
    public var clientId: String
    public var categoryId: String
    public var wave: Int
    public var distanceKm: Double
    public var status: Status
    public var expiresAt: Date
    public var createdAt: Date

    public var view: OfferView {
        OfferView(id: _id, requestId: requestId, categoryId: categoryId, wave: wave, distanceKm: distanceKm, status: status, expiresAt: expiresAt)
    }
}

public struct OfferView: Codable, Sendable, Equatable {
    public var id: String
    public var requestId: String
    public var categoryId: String
    public var wave: Int
    public var distanceKm: Double
    public var status: Offer.Status
    public var expiresAt: Date
}

/// The job a request becomes once a provider accepted; its status follows JobLifecycle.swift.
public struct Job: Codable, Sendable, Equatable {
    public typealias Status = JobStatus

    /// One transition, kept on the job for its timeline.
    public struct Step: Codable, Sendable, Equatable {
        public var status: Status
        public var at: Date
        public var by: JobActor
    }

    public var _id: String
    public var requestId: String
    public var clientId: String
    public var providerId: String
    public var categoryId: String?
    public var budget: Money?
    public var status: Status
    public var timeline: [Step]?
    public var cancelledBy: JobActor?
    public var cancellationReason: String?
    public var cancellationFee: Money?
    public var createdAt: Date
    public var updatedAt: Date

    public var view: JobView {
        JobView(id: _id, requestId: requestId, clientId: clientId, providerId: providerId, categoryId: categoryId, status: status,
                timeline: timeline ?? [], cancelledBy: cancelledBy, cancellationReason: cancellationReason,
                cancellationFee: cancellationFee, createdAt: createdAt, updatedAt: updatedAt)
    }
}

public struct JobView: Codable, Sendable, Equatable {
    public var id: String
    public var requestId: String
    public var clientId: String
    public var providerId: String
    public var categoryId: String?
    public var status: Job.Status
    public var timeline: [Job.Step]
    public var cancelledBy: JobActor?
    public var cancellationReason: String?
    public var cancellationFee: Money?
    public var createdAt: Date
    public var updatedAt: Date
}
