import Foundation

/// Events the Dispatch service publishes: providers' presence on `Topic.providerLocations`
/// (keyed by provider; the realtime gateway publishes location updates too), requests on
/// `Topic.serviceRequests`, offers on `Topic.offers`, jobs on `Topic.jobs`, reviews on `Topic.reviews`.
public enum DispatchEvents {
    public static let source = "/services/dispatch"
    public static let locationUpdated: EventType = "marketplace.provider.location-updated.v1"
    public static let availabilityChanged: EventType = "marketplace.provider.availability-changed.v1"

    public static let requestCreated: EventType = "marketplace.request.created.v1"
    public static let requestCancelled: EventType = "marketplace.request.cancelled.v1"

    public static let offerSent: EventType = "marketplace.offer.sent.v1"
    public static let offerAccepted: EventType = "marketplace.offer.accepted.v1"
    public static let offerDeclined: EventType = "marketplace.offer.declined.v1"
    public static let offerWithdrawn: EventType = "marketplace.offer.withdrawn.v1"
    public static let offerExpired: EventType = "marketplace.offer.expired.v1"
    public static let requestUnfulfilled: EventType = "marketplace.request.unfulfilled.v1"
    public static let reviewPublished: EventType = "marketplace.review.published.v1"

    public struct ReviewPublished: Codable, Sendable, Equatable {
        public var jobId: String
        public var authorId: String
        public var authorRole: JobActor
        public var subjectId: String
        public var rating: Int

        public init(jobId: String, authorId: String, authorRole: JobActor, subjectId: String, rating: Int) {
            self.jobId = jobId
            self.authorId = authorId
            self.authorRole = authorRole
            self.subjectId = subjectId
            self.rating = rating
        }
    }

    public static let jobAssigned: EventType = "marketplace.job.assigned.v1"
    /// Every transition after `assigned`, cancellations included (realtime, notifications, analytics).
    public static let jobStatusChanged: EventType = "marketplace.job.status-changed.v1"

    public struct JobStatusChanged: Codable, Sendable, Equatable {
        public var jobId: String
        public var requestId: String
        public var clientId: String
        public var providerId: String
        public var from: JobStatus
        public var to: JobStatus
        public var by: JobActor
        public var reason: String?
        public var fee: Money?
        /// On completion: the amount the provider states (at most the hold); nil means the hold.
        public var finalAmount: Money?
        public var at: Date

        public init(jobId: String, requestId: String, clientId: String, providerId: String, from: JobStatus, to: JobStatus, by: JobActor, reason: String? = nil, fee: Money? = nil,
                    finalAmount: Money? = nil, at: Date) {
            self.jobId = jobId
            self.requestId = requestId
            self.clientId = clientId
            self.providerId = providerId
            self.from = from
            self.to = to
            self.by = by
            self.reason = reason
            self.fee = fee
            self.finalAmount = finalAmount
            self.at = at
        }
    }

    public struct OfferEvent: Codable, Sendable, Equatable {
        public var offerId: String
        public var requestId: String
        public var providerId: String
        public var wave: Int

        public init(offerId: String, requestId: String, providerId: String, wave: Int) {
            self.offerId = offerId
            self.requestId = requestId
            self.providerId = providerId
            self.wave = wave
        }
    }

    public struct JobAssigned: Codable, Sendable, Equatable {
        public var jobId: String
        public var requestId: String
        public var clientId: String
        public var providerId: String

        public init(jobId: String, requestId: String, clientId: String, providerId: String) {
            self.jobId = jobId
            self.requestId = requestId
            self.clientId = clientId
            self.providerId = providerId
        }
    }

    public struct RequestCreated: Codable, Sendable, Equatable {
        public var requestId: String
        public var clientId: String
        public var categoryId: String
        public var lat: Double
        public var lng: Double
        public var scheduledFor: Date?
        public var budget: String?
        public var currency: String?

        public init(requestId: String, clientId: String, categoryId: String, lat: Double, lng: Double, scheduledFor: Date? = nil,
                    budget: String? = nil, currency: String? = nil) {
            self.requestId = requestId
            self.clientId = clientId
            self.categoryId = categoryId
            self.lat = lat
            self.lng = lng
            self.scheduledFor = scheduledFor
            self.budget = budget
            self.currency = currency
        }

        /// The budget as money, when the request has one.
        public var budgetMoney: Money? {
            guard let budget, let currency else { return nil }
            return Money(budget, currency: currency)
        }
    }

    public struct RequestCancelled: Codable, Sendable, Equatable {
        public var requestId: String
        public var clientId: String
        public var reason: String?
        /// Set when the request ended because its job was cancelled (the job's event says more).
        public var jobId: String?

        public init(requestId: String, clientId: String, reason: String? = nil, jobId: String? = nil) {
            self.requestId = requestId
            self.clientId = clientId
            self.reason = reason
            self.jobId = jobId
        }
    }

    public struct LocationUpdated: Codable, Sendable, Equatable {
        public var providerId: String
        public var lat: Double
        public var lng: Double
        public var at: Date

        public init(providerId: String, lat: Double, lng: Double, at: Date) {
            self.providerId = providerId
            self.lat = lat
            self.lng = lng
            self.at = at
        }
    }

    public struct AvailabilityChanged: Codable, Sendable, Equatable {
        public var providerId: String
        public var online: Bool
        public var categories: [String]
        public var at: Date

        public init(providerId: String, online: Bool, categories: [String], at: Date) {
            self.providerId = providerId
            self.online = online
            self.categories = categories
            self.at = at
        }
    }
}
