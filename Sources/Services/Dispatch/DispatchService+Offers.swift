import Foundation
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo
import Metrics
import Synchronization

/// The first wave of offers for a new request (later waves: Waves.swift), and accepting or
/// declining an offer.
///
/// Candidates and their ranking: Candidates.swift and Domain/Ranking.swift.
extension DispatchService {
    /// Handles `request.created`: offers the request to the nearest online providers of its
    /// category. A redelivered event offers nobody twice (see below).
    public func dispatch(_ event: EventEnvelope, index: ProviderPresenceIndex) async throws {
        let created = try event.decode(DispatchEvents.RequestCreated.self)
        let now = Date()
        let started = ContinuousClock.now
        let budget = created.budgetMoney
        let candidates = try await self.candidates(category: created.categoryId, at: Coordinates(lat: created.lat, lng: created.lng),
                                                   radiusKm: policy.firstRadiusKm, budget: budget, excluding: [], index: index, now: now)
        let state = DispatchState(_id: created.requestId, clientId: created.clientId, categoryId: created.categoryId, lat: created.lat, lng: created.lng,
                                  budget: budget, wave: 1, radiusKm: policy.firstRadiusKm, offered: candidates.map(\.providerId),
                                  nextWaveAt: now.addingTimeInterval(policy.offerLifetime), deadline: now.addingTimeInterval(policy.deadline), status: "active")
        let wave = makeOffers(candidates, requestID: created.requestId, clientID: created.clientId, categoryID: created.categoryId, wave: 1, now: now)
        let events = try wave.map { try Self.offerEvent(DispatchEvents.offerSent, $0, traceparent: event.traceparent) }
        let topic = Topic.offers
        let requestID = created.requestId
        let offered = Mutex(false)
        // Exactly once without an inbox record: the dispatch state's _id is the request's, so the
        // state insert of a redelivered request.created fails as a duplicate and the transaction
        // leaves nothing behind. Each statement inside is a round trip and a decision is on the
        // clock (issue 16): the wave goes in one insert, its events in one outbox entry.
        do {
            try await mongo.withTransaction { session in
                offered.withLock { $0 = false }  // a retried transaction starts over
                // Only a request still searching is offered (it may have been cancelled meanwhile).
                guard try session.collection(ServiceRequestRepository.collectionName, as: ServiceRequest.self).count(["_id": .string(requestID), "status": "searching"]) == 1 else { return }
                try session.collection(DispatchStateRepository.collectionName, as: DispatchState.self).insert(state)
                offered.withLock { $0 = true }
                guard !wave.isEmpty else { return }
                try session.collection(OfferRepository.collectionName, as: Offer.self).insert(contentsOf: wave)
                try Outbox.append(events, to: topic, in: session)
            }
        } catch let error as MongoError where error.isDuplicateKey {
            if try await states.exists(requestID) { return }  // a redelivery: dispatched already
            throw error
        }
        guard offered.withLock({ $0 }) else { return }
        await offerStats.count(offered: wave.map(\.providerId))
        // Counted after the commit (a retried transaction must not count twice).
        let took = (ContinuousClock.now - started).components
        Timer(label: "dispatch_decision_duration_seconds").recordNanoseconds(took.seconds * 1_000_000_000 + took.attoseconds / 1_000_000_000)
        Counter(label: "dispatch_offers_sent_total", dimensions: [("wave", "1")]).increment(by: wave.count)
        if wave.isEmpty { Counter(label: "dispatch_requests_without_candidates_total").increment() }
    }

    /// Offers of one wave to the given candidates, valid for the policy's offer lifetime.
    func makeOffers(_ candidates: [ProviderPresenceIndex.Nearby], requestID: String, clientID: String, categoryID: String,
                    wave: Int, now: Date) -> [Offer] {
        candidates.map { candidate in
            Offer(_id: UUID().uuidString.lowercased(), requestId: requestID, providerId: candidate.providerId, clientId: clientID,
                  categoryId: categoryID, wave: wave, distanceKm: candidate.distanceKm, status: .pending,
                  expiresAt: now.addingTimeInterval(policy.offerLifetime), createdAt: now)
        }
    }

    /// An event about an offer (sent, accepted, withdrawn, expired), keyed by its request.
    static func offerEvent(_ type: EventType, _ offer: Offer, traceparent: String? = nil) throws -> EventEnvelope {
        try EventEnvelope(source: DispatchEvents.source, type: type, aggregateID: offer.requestId,
                          payload: DispatchEvents.OfferEvent(offerId: offer._id, requestId: offer.requestId, providerId: offer.providerId, wave: offer.wave),
                          traceparent: traceparent)
    }

    public func myOffers(_ caller: Caller) async throws -> [OfferView] {
        guard caller.role == .provider else { throw DomainError(kind: .forbidden, code: "forbidden", title: "Only providers receive offers") }
        return try await offers.pending(provider: caller.userID).map(\.view)
    }

    public struct Acceptance: Codable, Sendable {
        public var offer: OfferView
        public var jobId: String
    }

    /// Accepts an offer. Exactly one provider wins a request: the request moves
    /// `searching → assigned` by compare-and-set inside the transaction; every other pending offer
    /// of the request is withdrawn. A provider who lost gets 409 `request_taken`.
    public func acceptOffer(_ caller: Caller, offerID: String, traceparent: String?) async throws -> Acceptance {
        guard caller.role == .provider else { throw DomainError(kind: .forbidden, code: "forbidden", title: "Only providers accept offers") }
        guard let offer = try await offers.find(id: offerID), offer.providerId == caller.userID else {
            throw DomainError.notFound("offer '\(offerID)'")
        }
        guard offer.status == .pending, offer.expiresAt > Date() else {
            throw DomainError.conflict("offer_closed", "the offer is \(offer.status == .pending ? "expired" : offer.status.rawValue)")
        }
        let jobID = UUID().uuidString.lowercased()
        let now = Date()
        let accepted = try Self.offerEvent(DispatchEvents.offerAccepted, offer, traceparent: traceparent)
        let assigned = try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.jobAssigned, aggregateID: jobID,
                                         payload: DispatchEvents.JobAssigned(jobId: jobID, requestId: offer.requestId, clientId: offer.clientId, providerId: offer.providerId),
                                         traceparent: traceparent)
        let won: Bool = try await mongo.withTransaction { session in
            let requests = session.collection(ServiceRequestRepository.collectionName, as: ServiceRequest.self)
            guard let request = try requests.findOneAndUpdate(["_id": .string(offer.requestId), "status": "searching"],
                                                              ["$set": ["status": "assigned", "providerId": .string(offer.providerId), "jobId": .string(jobID), "updatedAt": .date(now)]]) else {
                return false
            }
            let offers = session.collection(OfferRepository.collectionName, as: Offer.self)
            guard try offers.findOneAndUpdate(["_id": .string(offer._id), "status": "pending"], ["$set": ["status": "accepted"]]) != nil else {
                throw DomainError.conflict("offer_closed", "the offer is no longer pending")  // aborts: the request stays searching
            }
            let others = try offers.find(["requestId": .string(offer.requestId), "status": "pending"])
            for other in others {
                try offers.updateOne(["_id": .string(other._id), "status": "pending"], ["$set": ["status": "withdrawn"]])
                try Outbox.append(try Self.offerEvent(DispatchEvents.offerWithdrawn, other, traceparent: traceparent), to: Topic.offers, in: session)
            }
            try session.collection(JobRepository.collectionName, as: Job.self).insert(
                Job(_id: jobID, requestId: offer.requestId, clientId: offer.clientId, providerId: offer.providerId, categoryId: offer.categoryId,
                    budget: request.budget, hold: request.hold, status: .assigned, timeline: [Job.Step(status: .assigned, at: now, by: .provider)],
                    createdAt: now, updatedAt: now))
            try Outbox.append(accepted, to: Topic.offers, in: session)
            try Outbox.append(assigned, to: Topic.jobs, in: session)
            return true
        }
        guard won else {
            _ = try? await offers.settle(offer._id, as: .withdrawn)
            Counter(label: "dispatch_offer_answers_total", dimensions: [("outcome", "taken")]).increment()
            throw DomainError.conflict("request_taken", "another provider accepted this request first")
        }
        Counter(label: "dispatch_offer_answers_total", dimensions: [("outcome", "accepted")]).increment()
        await offerStats.count(accepted: offer.providerId)  // after commit, see ProviderOfferStatsRepository
        var view = offer.view
        view.status = .accepted
        return Acceptance(offer: view, jobId: jobID)
    }

    public func declineOffer(_ caller: Caller, offerID: String) async throws -> OfferView {
        guard caller.role == .provider else { throw DomainError(kind: .forbidden, code: "forbidden", title: "Only providers decline offers") }
        guard let offer = try await offers.find(id: offerID), offer.providerId == caller.userID else {
            throw DomainError.notFound("offer '\(offerID)'")
        }
        let event = try Self.offerEvent(DispatchEvents.offerDeclined, offer)
        let declined: Offer? = try await mongo.withTransaction { session in
            guard let declined = try session.collection(OfferRepository.collectionName, as: Offer.self)
                .findOneAndUpdate(["_id": .string(offerID), "status": "pending"], ["$set": ["status": "declined"]]) else { return nil }
            try Outbox.append(event, to: Topic.offers, in: session)
            return declined
        }
        guard let declined else {
            throw DomainError.conflict("offer_closed", "the offer is \(offer.status.rawValue)")
        }
        Counter(label: "dispatch_offer_answers_total", dimensions: [("outcome", "declined")]).increment()
        return declined.view
    }
}
