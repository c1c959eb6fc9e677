import Foundation
import MarketplaceContracts
import MarketplaceMessaging
import MarketplaceMongo

extension DispatchService {

    /// Advances every dispatch whose wave timer ran out by `now`: expires the wave's offers, then
    /// offers the request to the next providers (wider radius) or, past the deadline, marks it
    /// `unfulfilled`. Returns how many dispatches it advanced.
    @discardableResult
    public func advanceWaves(index: ProviderPresenceIndex, now: Date = Date()) async throws -> Int {
        let due = try await states.due(now: now)
        var advanced = 0
        for state in due where try await advance(state, index: index, now: now) { advanced += 1 }
        return advanced
    }

    private func advance(_ state: DispatchState, index: ProviderPresenceIndex, now: Date) async throws -> Bool {
        let pastDeadline = now >= state.deadline
        let radius = min(state.radiusKm * 2, policy.maxRadiusKm)
        var next: [ProviderPresenceIndex.Nearby] = []
        if !pastDeadline {
            next = try await candidates(category: state.categoryId, at: Coordinates(lat: state.lat, lng: state.lng), radiusKm: radius,
                                        budget: state.budget, excluding: Set(state.offered), index: index, now: now)
        }
        let wave = state.wave + 1
        let offers = makeOffers(next, requestID: state._id, clientID: state.clientId, categoryID: state.categoryId, wave: wave, now: now)
        let offerLifetime = policy.offerLifetime
        let (advanced, offered): (Bool, [String]) = try await mongo.withTransaction { session in
            // Compare-and-set on the wave: another instance may have advanced it already.
            let states = session.collection(DispatchStateRepository.collectionName, as: DispatchState.self)
            guard try states.findOneAndUpdate(["_id": .string(state._id), "status": "active", "wave": .int64(Int64(state.wave))],
                                              ["$set": ["wave": .int64(Int64(wave))]]) != nil else { return (false, []) }
            let requests = session.collection(ServiceRequestRepository.collectionName, as: ServiceRequest.self)
            let offerCollection = session.collection(OfferRepository.collectionName, as: Offer.self)
            // The wave's time is up: its pending offers expire.
            for offer in try offerCollection.find(["requestId": .string(state._id), "status": "pending"]) {
                try offerCollection.updateOne(["_id": .string(offer._id), "status": "pending"], ["$set": ["status": "expired"]])
                try Outbox.append(try Self.offerEvent(DispatchEvents.offerExpired, offer), to: Topic.offers, in: session)
            }
            guard try requests.count(["_id": .string(state._id), "status": "searching"]) == 1 else {
                try states.updateOne(["_id": .string(state._id)], ["$set": ["status": "done"]])  // accepted or cancelled meanwhile
                return (true, [])
            }
            if pastDeadline {
                try requests.updateOne(["_id": .string(state._id), "status": "searching"], ["$set": ["status": "unfulfilled", "updatedAt": .date(now)]])
                try Outbox.append(try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.requestUnfulfilled, aggregateID: state._id,
                                                    payload: DispatchEvents.RequestCancelled(requestId: state._id, clientId: state.clientId, reason: "nobody accepted in time")),
                                  to: Topic.serviceRequests, in: session)
                try states.updateOne(["_id": .string(state._id)], ["$set": ["status": "done"]])
                return (true, [])
            }
            // As in the first wave: the offers in one insert, their events in one outbox entry.
            if !offers.isEmpty {
                try offerCollection.insert(contentsOf: offers)
                try Outbox.append(try offers.map { try Self.offerEvent(DispatchEvents.offerSent, $0) }, to: Topic.offers, in: session)
            }
            try states.updateOne(["_id": .string(state._id)], ["$set": [
                "radiusKm": .double(radius), "nextWaveAt": .date(min(now.addingTimeInterval(offerLifetime), state.deadline)),
                "offered": .array((state.offered + offers.map(\.providerId)).map { .string($0) })]])
            return (true, offers.map(\.providerId))
        }
        if !offered.isEmpty { await offerStats.count(offered: offered) }
        return advanced
    }
}
