import Foundation
import MarketplaceContracts

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
    /// The card hold on the request (payments): what completion may capture at most.
    public var hold: Money?
    public var status: Status
    public var timeline: [Step]?
    public var cancelledBy: JobActor?
    public var cancellationReason: String?
    public var cancellationFee: Money?
    public var finalAmount: Money?
    public var createdAt: Date
    public var updatedAt: Date

    public var view: JobView {
        JobView(id: _id, requestId: requestId, clientId: clientId, providerId: providerId, categoryId: categoryId, status: status,
                timeline: timeline ?? [], cancelledBy: cancelledBy, cancellationReason: cancellationReason,
                cancellationFee: cancellationFee, hold: hold, finalAmount: finalAmount, createdAt: createdAt, updatedAt: updatedAt)
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
    public var hold: Money?
    public var finalAmount: Money?
    public var createdAt: Date
    public var updatedAt: Date
}
