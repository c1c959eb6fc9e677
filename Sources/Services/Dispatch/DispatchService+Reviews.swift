import Foundation
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo

/// Reviews after completion (double-blind, 7 days) and the provider rating projection.
extension DispatchService {
    /// The rating projection: per provider, the sum and count of clients' visible reviews.
    static let ratingsCollection = "provider_ratings"

    public struct ReviewInput: Codable, Sendable {
        public var rating: Int
        public var text: String?
    }

    /// The client or the provider of a completed job reviews the other, once, within 7 days of
    /// completion. When the second review arrives both become visible (one transaction).
    public func review(_ caller: Caller, jobID: String, _ input: ReviewInput, traceparent: String?) async throws -> ReviewView {
        guard let job = try await jobs.find(id: jobID), caller.userID == job.clientId || caller.userID == job.providerId else {
            throw DomainError.notFound("job '\(jobID)'")
        }
        let text = (input.text ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if let problem = Review.problem(rating: input.rating, text: text) { throw DomainError.validation(problem) }
        guard job.status == .completed else { throw DomainError.conflict("job_not_completed", "only a completed job can be reviewed") }
        let completedAt = job.timeline?.last(where: { $0.status == .completed })?.at ?? job.updatedAt
        let now = Date()
        let closes = completedAt.addingTimeInterval(Review.window)
        guard now < closes else { throw DomainError.conflict("review_window_closed", "reviews close 7 days after completion") }
        let role: JobActor = caller.userID == job.providerId ? .provider : .client
        var review = Review(_id: "\(jobID):\(role.rawValue)", jobId: jobID, authorId: caller.userID, authorRole: role,
                            subjectId: role == .client ? job.providerId : job.clientId, rating: input.rating, text: text,
                            visible: false, windowClosesAt: closes, createdAt: now)
        let topic = Topic.reviews
        let counterpartID = "\(jobID):\(role == .client ? JobActor.provider.rawValue : JobActor.client.rawValue)"
        let stored = review
        do {
            review.visible = try await mongo.withTransaction { session in
                let collection = session.collection(ReviewRepository.collectionName, as: Review.self)
                try collection.insert(stored)
                // The second review lifts the veil on both.
                guard let counterpart = try collection.find(["_id": .string(counterpartID)]).first, !counterpart.visible else { return false }
                for hidden in [counterpart, stored] { try Self.publish(hidden, in: session, topic: topic, traceparent: traceparent) }
                return true
            }
        } catch let error as MongoError where error.isDuplicateKey {
            throw DomainError.conflict("review_exists", "you already reviewed this job")
        }
        return review.view
    }

    /// Marks a review visible and emits `review.published` (which the rating projection applies).
    static func publish(_ review: Review, in session: MongoSession, topic: Topic, traceparent: String?) throws {
        guard try session.collection(ReviewRepository.collectionName, as: Review.self)
            .updateOne(["_id": .string(review._id), "visible": false], ["$set": ["visible": true]]).modified == 1 else { return }
        let event = DispatchEvents.ReviewPublished(jobId: review.jobId, authorId: review.authorId, authorRole: review.authorRole,
                                                   subjectId: review.subjectId, rating: review.rating)
        try Outbox.append(try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.reviewPublished, aggregateID: review.subjectId,
                                            payload: event, traceparent: traceparent), to: topic, in: session)
    }

    /// Reviews whose window closed without the counterpart's become visible. Run periodically by
    /// the dispatch worker; returns how many it published.
    @discardableResult
    public func publishDueReviews(now: Date = Date()) async throws -> Int {
        let due = try await reviews.due(now: now)
        let topic = Topic.reviews
        for review in due {
            try await mongo.withTransaction { session in try Self.publish(review, in: session, topic: topic, traceparent: nil) }
        }
        return due.count
    }

    /// A job's reviews as its parties see them: their own always, the other's once visible.
    public func jobReviews(_ caller: Caller, jobID: String) async throws -> [ReviewView] {
        guard let job = try await jobs.find(id: jobID),
              caller.role == .admin || caller.userID == job.clientId || caller.userID == job.providerId else {
            throw DomainError.notFound("job '\(jobID)'")
        }
        return try await reviews.of(job: jobID)
            .filter { $0.visible || $0.authorId == caller.userID || caller.role == .admin }.map(\.view)
    }

    /// A provider's visible reviews, newest first (public).
    public func providerReviews(providerID: String, limit: Int = 50) async throws -> [ReviewView] {
        try await reviews.visible(aboutProvider: providerID, limit: limit).map(\.view)
    }

    struct ProviderRating: Codable, Sendable {
        var _id: String
        var sum: Int
        var count: Int
    }

    /// The rating projection: a published review of a provider (by a client) moves its average.
    /// Through the inbox, so a redelivered event counts once.
    public func applyReviewPublished(_ event: EventEnvelope) async throws {
        let published = try event.decode(DispatchEvents.ReviewPublished.self)
        guard published.authorRole == .client else { return }  // clients are not rated publicly
        try await Inbox(mongo: mongo, consumer: "provider-ratings").processOnce(event) { session in
            let ratings = session.collection(Self.ratingsCollection, as: ProviderRating.self)
            guard let rating = try ratings.findOneAndUpdate(["_id": .string(published.subjectId)],
                                                            ["$inc": ["sum": .int64(Int64(published.rating)), "count": 1]], upsert: true) else { return }
            let average = (Double(rating.sum) / Double(max(1, rating.count)) * 100).rounded() / 100
            try session.collection(ProviderProfilesReadModel.collectionName, as: BSONDocument.self).updateOne(
                ["_id": .string(published.subjectId)], ["$set": ["rating": .double(average), "ratingCount": .int64(Int64(rating.count))]])
        }
    }
}
