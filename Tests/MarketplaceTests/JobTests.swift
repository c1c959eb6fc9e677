import Foundation
import Hummingbird
import HummingbirdTesting
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceMessaging
import MarketplaceMongo
import Testing

@Suite("Dispatch: ranking", .timeLimit(.minutes(1)))
struct RankingTests {
    let budget = Money(amount: 50, currency: "EUR")

    @Test("distance dominates; rating, acceptance and price above the budget move a provider down by the documented weights")
    func score() {
        let ranking = Ranking()
        let near = CandidateSignals(providerId: "near", distanceKm: 1, rating: 4.0)
        let far = CandidateSignals(providerId: "far", distanceKm: 6, rating: 4.0)
        #expect(ranking.rank([far, near], radiusKm: 10, budget: budget).map(\.providerId) == ["near", "far"])
        // A 1-star gap weighs 0.125 = 1.25 km of a 10 km radius: 5 stars at 2 km beats 4 stars at 1 km…
        let starred = CandidateSignals(providerId: "starred", distanceKm: 2, rating: 5.0)
        #expect(ranking.rank([near, starred], radiusKm: 10, budget: budget).map(\.providerId) == ["starred", "near"])
        // …but not at 3 km.
        let starredFar = CandidateSignals(providerId: "starred", distanceKm: 3, rating: 5.0)
        #expect(ranking.rank([near, starredFar], radiusKm: 10, budget: budget).map(\.providerId) == ["near", "starred"])
        // A provider who declines everything loses against one who accepts.
        let decliner = CandidateSignals(providerId: "a-decliner", distanceKm: 1, rating: 4.0,
                                        acceptanceRate: Ranking.acceptanceRate(offered: 20, accepted: 0))
        #expect(ranking.rank([decliner, near], radiusKm: 10, budget: budget).map(\.providerId) == ["near", "a-decliner"])
        // Twice the budget costs 0.2; a price in another currency is not compared.
        let pricey = CandidateSignals(providerId: "a-pricey", distanceKm: 1, rating: 4.0, hourlyRate: 100, currency: "EUR")
        #expect(abs(ranking.score(pricey, radiusKm: 10, budget: budget) - ranking.score(near, radiusKm: 10, budget: budget) - 0.2) < 1e-9)
        let foreign = CandidateSignals(providerId: "a-foreign", distanceKm: 1, rating: 4.0, hourlyRate: 100, currency: "USD")
        #expect(ranking.score(foreign, radiusKm: 10, budget: budget) == ranking.score(near, radiusKm: 10, budget: budget))
        // Ties: nearer first, then by id.
        let twin = CandidateSignals(providerId: "a-twin", distanceKm: 1, rating: 4.0)
        #expect(ranking.rank([near, twin], radiusKm: 10, budget: nil).map(\.providerId) == ["a-twin", "near"])
    }

    @Test("the cancellation fee: only a client cancelling after the provider set off pays, at most the budget")
    func cancellationFee() {
        let policy = CancellationPolicy(flatFee: 5, defaultCurrency: "EUR")
        #expect(policy.fee(cancelledBy: .client, from: .assigned, budget: budget) == nil)
        #expect(policy.fee(cancelledBy: .client, from: .enRoute, budget: budget) == Money(amount: 5, currency: "EUR"))
        #expect(policy.fee(cancelledBy: .client, from: .inProgress, budget: Money(amount: 3, currency: "GBP"))
                == Money(amount: 3, currency: "GBP"))
        #expect(policy.fee(cancelledBy: .provider, from: .arrived, budget: budget) == nil)
        #expect(policy.fee(cancelledBy: .admin, from: .arrived, budget: budget) == nil)
        #expect(policy.fee(cancelledBy: .client, from: .arrived, budget: nil)?.currency == "EUR")
    }
}

@Suite("Dispatch: jobs", .timeLimit(.minutes(3)))
struct JobTests {
    typealias T = IdentityTests
    typealias D = DispatchTests

    /// A customer's request, dispatched (without Kafka: the worker's use case applied to the
    /// request's outbox event) and accepted by `provider`; returns the job id.
    static func assignedJob(_ h: D.Harness, _ client: some TestClientProtocol, index: ProviderPresenceIndex, category: String,
                            customer: T.Tokens, provider: T.Tokens) async throws -> String {
        let request: ServiceRequestView = try await client.execute(uri: "/v1/requests", method: .post, headers: T.bearer(customer.accessToken), body: T.json([
            "categoryId": category, "location": ["lat": 38.72, "lng": -9.14], "address": "Rua 1", "description": "Leak",
            "budget": ["amount": "80.00", "currency": "EUR"]])) { response throws in
            #expect(response.status == .created)
            return try JSONDecoder.iso.decode(ServiceRequestView.self, from: response.body)
        }
        return try await accepted(h, client, requestID: request.id, index: index, provider: provider)
    }

    /// Dispatches the request (as the worker would) and has `provider` accept its offer: the job id.
    static func accepted(_ h: D.Harness, _ client: some TestClientProtocol, requestID: String, index: ProviderPresenceIndex,
                         provider: T.Tokens) async throws -> String {
        try await h.dispatch.dispatch(try await D.createdEvent(h, requestID: requestID), index: index)
        let offers: [OfferView] = try await client.execute(uri: "/v1/offers", method: .get, headers: T.bearer(provider.accessToken)) { response throws in
            try JSONDecoder.iso.decode([OfferView].self, from: response.body)
        }
        let offer = try #require(offers.first { $0.requestId == requestID })
        return try await client.execute(uri: "/v1/offers/\(offer.id)/accept", method: .post, headers: T.bearer(provider.accessToken)) { response throws in
            #expect(response.status == .ok)
            return try JSONDecoder.iso.decode(DispatchService.Acceptance.self, from: response.body).jobId
        }
    }

    static func move(_ client: some TestClientProtocol, _ job: String, to status: String, token: String) async throws -> (HTTPResponse.Status, String) {
        try await client.execute(uri: "/v1/jobs/\(job)/status", method: .post, headers: T.bearer(token), body: T.json(["status": status])) {
            ($0.status, (try? JSONDecoder().decode(T.ProblemBody.self, from: $0.body).code) ?? "")
        }
    }

    @Test("only the assigned provider advances a job one step at a time; the client sees it; a cancellation after en_route records the fee")
    func lifecycle() async throws {
        let h = try await D.harness()
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        try await h.app.test(.router) { client in
            let (admin, category) = try await D.adminAndCategory(h, client)
            let provider = try await D.onlineProvider(client, index: index, category: category, offsetLat: 0.01)
            let stranger = try await D.onlineProvider(client, index: index, category: TestServers.unique("cat"), offsetLat: 0.01)
            let customer = try await T.register(client, email: T.email())
            let job = try await Self.assignedJob(h, client, index: index, category: category, customer: customer, provider: provider)

            // Refusals: the client cannot advance (403), a stranger does not see the job (404),
            // a skipped step or a backwards one is 409, an unknown status is 400.
            #expect(try await Self.move(client, job, to: "en_route", token: customer.accessToken) == (.forbidden, "not_assigned_provider"))
            #expect(try await Self.move(client, job, to: "en_route", token: stranger.accessToken).0 == .notFound)
            #expect(try await Self.move(client, job, to: "arrived", token: provider.accessToken) == (.conflict, "invalid_transition"))
            #expect(try await Self.move(client, job, to: "teleported", token: provider.accessToken) == (.unprocessableContent, "validation_failed"))
            #expect(try await Self.move(client, job, to: "en_route", token: provider.accessToken).0 == .ok)
            #expect(try await Self.move(client, job, to: "en_route", token: provider.accessToken) == (.conflict, "invalid_transition"))
            #expect(try await Self.move(client, job, to: "assigned", token: provider.accessToken).0 == .unprocessableContent)

            // The busy provider gets no offer for another request meanwhile.
            let other = try await T.register(client, email: T.email())
            let second: ServiceRequestView = try await client.execute(uri: "/v1/requests", method: .post, headers: T.bearer(other.accessToken), body: T.json([
                "categoryId": category, "location": ["lat": 38.72, "lng": -9.14], "address": "Rua 2", "description": "Tap"])) { response throws in
                try JSONDecoder.iso.decode(ServiceRequestView.self, from: response.body)
            }
            try await h.dispatch.dispatch(try await D.createdEvent(h, requestID: second.id), index: index)
            #expect(try await h.platform.mongo.collection("offers", as: Offer.self).count(["requestId": .string(second.id)]) == 0)

            // The client sees the job and its timeline; a cancellation needs a reason.
            try await client.execute(uri: "/v1/jobs/\(job)", method: .get, headers: T.bearer(customer.accessToken)) { response throws in
                let view = try JSONDecoder.iso.decode(JobView.self, from: response.body)
                #expect(view.status == .enRoute && view.timeline.map(\.status) == [.assigned, .enRoute])
            }
            try await client.execute(uri: "/v1/jobs/\(job)/cancel", method: .post, headers: T.bearer(customer.accessToken), body: T.json([:])) {
                #expect($0.status == .unprocessableContent)
            }
            try await client.execute(uri: "/v1/jobs/\(job)/cancel", method: .post, headers: T.bearer(customer.accessToken),
                                     body: T.json(["reason": "changed my mind"])) { response throws in
                #expect(response.status == .ok)
                let view = try JSONDecoder.iso.decode(JobView.self, from: response.body)
                #expect(view.status == .cancelled && view.cancelledBy == .client)
                #expect(view.cancellationFee == Money(amount: 5, currency: "EUR"))
            }
            #expect(try await Self.move(client, job, to: "arrived", token: provider.accessToken) == (.conflict, "invalid_transition"))
            try await client.execute(uri: "/v1/jobs/\(job)/cancel", method: .post, headers: T.bearer(provider.accessToken),
                                     body: T.json(["reason": "again"])) { #expect($0.status == .conflict) }
            let requestStatus = try await h.platform.mongo.collection("service_requests", as: ServiceRequest.self)
                .findOne(["jobId": .string(job)])?.status
            #expect(requestStatus == .cancelled)

            // A second job goes all the way; the provider lists it as done, not active.
            let completed = try await Self.assignedJob(h, client, index: index, category: category, customer: customer, provider: provider)
            for status in ["en_route", "arrived", "in_progress", "completed"] {
                #expect(try await Self.move(client, completed, to: status, token: provider.accessToken).0 == .ok, "\(status)")
            }
            try await client.execute(uri: "/v1/jobs/\(completed)/cancel", method: .post, headers: T.bearer(customer.accessToken),
                                     body: T.json(["reason": "late"])) { #expect($0.status == .conflict) }
            try await client.execute(uri: "/v1/jobs?active=false", method: .get, headers: T.bearer(provider.accessToken)) { response throws in
                #expect(try JSONDecoder.iso.decode([JobView].self, from: response.body).map(\.id).sorted() == [job, completed].sorted())
            }
            try await client.execute(uri: "/v1/jobs?active=true", method: .get, headers: T.bearer(provider.accessToken)) { response throws in
                #expect(try JSONDecoder.iso.decode([JobView].self, from: response.body).isEmpty)
            }
            try await client.execute(uri: "/v1/jobs?active=maybe", method: .get, headers: T.bearer(provider.accessToken)) { #expect($0.status == .badRequest) }
            try await client.execute(uri: "/v1/jobs/\(completed)", method: .get, headers: T.bearer(admin)) { #expect($0.status == .ok) }

            // Every transition is an event, in order, keyed by the job.
            let events = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
                .find(["aggregateId": .string(completed)], options: FindOptions(sort: ["_id": 1]))
            #expect(events.map(\.type) == ["marketplace.job.assigned.v1"] + Array(repeating: "marketplace.job.status-changed.v1", count: 4))
            let last = try JSONDecoder.iso.decode(DispatchEvents.JobStatusChanged.self, from: Data(try #require(events.last).data))
            #expect(last.from == .inProgress && last.to == .completed && last.by == .provider && last.clientId == customer.user.id)
        }
        await D.close(h)
    }
}

@Suite("Dispatch: reviews", .timeLimit(.minutes(3)))
struct ReviewTests {
    typealias T = IdentityTests
    typealias D = DispatchTests

    static func review(_ client: some TestClientProtocol, _ job: String, token: String, rating: Int, text: String = "") async throws -> (HTTPResponse.Status, ReviewView?) {
        try await client.execute(uri: "/v1/jobs/\(job)/reviews", method: .post, headers: T.bearer(token), body: T.json(["rating": rating, "text": text])) {
            ($0.status, try? JSONDecoder.iso.decode(ReviewView.self, from: $0.body))
        }
    }

    static func visible(_ client: some TestClientProtocol, _ job: String, token: String) async throws -> [ReviewView] {
        try await client.execute(uri: "/v1/jobs/\(job)/reviews", method: .get, headers: T.bearer(token)) { try JSONDecoder.iso.decode([ReviewView].self, from: $0.body) }
    }

    @Test("double-blind reviews after completion: hidden until both reviewed or 7 days passed; the provider's rating follows the events")
    func doubleBlind() async throws {
        let h = try await D.harness()
        try await h.platform.admin.ensureTopic(h.topics.name(.reviews), partitions: 2)
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        try await h.app.test(.router) { client in
            let (_, category) = try await D.adminAndCategory(h, client)
            let provider = try await D.onlineProvider(client, index: index, category: category, offsetLat: 0.01)
            var profile = IdentityAccountTests.profile
            profile["categories"] = [category]
            try await client.execute(uri: "/v1/providers/me/profile", method: .put, headers: T.bearer(provider.accessToken), body: T.json(profile)) { #expect($0.status == .ok) }
            let customer = try await T.register(client, email: T.email())
            let stranger = try await T.register(client, email: T.email())

            // Not before completion; not by strangers; ratings 1-5 only.
            let first = try await JobTests.assignedJob(h, client, index: index, category: category, customer: customer, provider: provider)
            #expect(try await Self.review(client, first, token: customer.accessToken, rating: 5).0 == .conflict)
            for status in ["en_route", "arrived", "in_progress", "completed"] { _ = try await JobTests.move(client, first, to: status, token: provider.accessToken) }
            #expect(try await Self.review(client, first, token: stranger.accessToken, rating: 5).0 == .notFound)
            #expect(try await Self.review(client, first, token: customer.accessToken, rating: 6).0 == .unprocessableContent)

            // The client reviews first: hidden from the provider, visible to its author.
            let (created, mine) = try await Self.review(client, first, token: customer.accessToken, rating: 4, text: "on time, tidy")
            #expect(created == .created && mine?.visible == false)
            #expect(try await Self.review(client, first, token: customer.accessToken, rating: 1).0 == .conflict, "once per party")
            #expect(try await Self.visible(client, first, token: provider.accessToken).isEmpty, "double-blind: the provider cannot read it yet")
            #expect(try await Self.visible(client, first, token: customer.accessToken).map(\.rating) == [4])
            // The provider's review lifts the veil on both.
            #expect(try await Self.review(client, first, token: provider.accessToken, rating: 5, text: "friendly").1?.visible == true)
            #expect(try await Self.visible(client, first, token: provider.accessToken).map(\.rating).sorted() == [4, 5])
            try await client.execute(uri: "/v1/providers/\(provider.user.id)/reviews", method: .get) { response throws in
                #expect(try JSONDecoder.iso.decode([ReviewView].self, from: response.body).map(\.text) == ["on time, tidy"], "only clients' reviews rate providers")
            }

            // A second job: only the client reviews; after the window the review is published anyway.
            let second = try await JobTests.assignedJob(h, client, index: index, category: category, customer: customer, provider: provider)
            for status in ["en_route", "arrived", "in_progress", "completed"] { _ = try await JobTests.move(client, second, to: status, token: provider.accessToken) }
            _ = try await Self.review(client, second, token: customer.accessToken, rating: 2, text: "late")
            #expect(try await h.dispatch.publishDueReviews(now: Date().addingTimeInterval(3 * 86_400)) == 0, "the window is still open")
            #expect(try await h.dispatch.publishDueReviews(now: Date().addingTimeInterval(8 * 86_400)) == 1)
            #expect(try await Self.visible(client, second, token: provider.accessToken).map(\.rating) == [2])

            // The rating projection applies the published events (redelivery counts once): (4 + 2) / 2.
            let events = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
                .find(["type": "marketplace.review.published.v1", "aggregateId": .string(provider.user.id)], options: FindOptions(sort: ["_id": 1]))
            #expect(events.count == 2)
            for entry in events + events {
                try await h.dispatch.applyReviewPublished(EventEnvelope(id: entry.eventId, source: entry.source, type: EventType(rawValue: entry.type),
                                                                        time: entry.time, aggregateID: entry.aggregateId, data: Array(entry.data)))
            }
            try await client.execute(uri: "/v1/providers/\(provider.user.id)", method: .get) { response throws in
                let object = try JSONSerialization.jsonObject(with: Data(buffer: response.body)) as? [String: Any]
                #expect(object?["rating"] as? Double == 3.0, "\(String(describing: object))")
            }
        }
        try? await h.platform.admin.deleteTopic(h.topics.name(.reviews))
        await D.close(h)
    }
}
