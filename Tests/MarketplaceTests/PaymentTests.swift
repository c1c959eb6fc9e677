import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo
import MarketplacePayments
import MarketplacePlatform
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Payments against localstripe (a stateful Stripe emulator whose webhooks carry real
/// Stripe-Signature headers), SecantusDB, Tansu and Redis. Every test ends with the ledger check.
@Suite("Payments: holds, captures, refunds, webhooks, ledger", .timeLimit(.minutes(4)))
struct PaymentTests {
    typealias T = IdentityTests
    typealias D = DispatchTests

    struct Options: Sendable {
        var stripeURL = TestServers.stripeURL
        var webhookSecrets = ["whsec_\(TestServers.unique("t"))"]
        var attempts = 2
        var timeout: Duration = .seconds(5)
        var breakerFailures = 5
        var breakerOpen: Duration = .seconds(30)
    }

    static func module(platform: Platform, ports: Ports, options: Options) throws -> PaymentsModule {
        let breaker = PaymentsModule.breaker(failures: options.breakerFailures, openFor: options.breakerOpen)
        let client = StripeClient(configuration: StripeConfiguration(baseURL: options.stripeURL, timeout: options.timeout, attempts: options.attempts,
                                                                     backoff: .milliseconds(50)), breaker: breaker)
        let service = PaymentService(mongo: platform.mongo, provider: client, webhookSecrets: options.webhookSecrets,
                                     contacts: ports.optional((any ContactDirectory).self),
                                     settings: .init(policy: PaymentPolicy(takeRate: Decimal(string: "0.15")!), initialBackoff: 0.1, maxBackoff: 0.5),
                                     logger: Logger(label: "test.payments"))
        return PaymentsModule(service: service, breaker: breaker, ports: ports)
    }

    // MARK: helpers

    static func service(_ h: D.Harness) -> PaymentService { h.payments!.service }

    @discardableResult
    static func addCard(_ client: some TestClientProtocol, _ token: String, _ method: String = "pm_card_visa") async throws -> CardMethod {
        try await client.execute(uri: "/v1/payments/methods", method: .post, headers: T.bearer(token), body: T.json(["paymentMethodId": method])) { response throws in
            #expect(response.status == .created, "\(String(buffer: response.body))")
            return try JSONDecoder.iso.decode(CardMethod.self, from: response.body)
        }
    }

    /// POST /v1/requests; the status, the request (on 201) and the problem code (otherwise).
    static func request(_ client: some TestClientProtocol, _ token: String, category: String, budget: String? = "80.00",
                        currency: String = "EUR") async throws -> (HTTPResponse.Status, ServiceRequestView?, String) {
        var body: [String: Any] = ["categoryId": category, "location": ["lat": 38.72, "lng": -9.14], "address": "Rua 1", "description": "Leak"]
        if let budget { body["budget"] = ["amount": budget, "currency": currency] }
        return try await client.execute(uri: "/v1/requests", method: .post, headers: T.bearer(token), body: T.json(body)) { response in
            (response.status, try? JSONDecoder.iso.decode(ServiceRequestView.self, from: response.body),
             (try? JSONDecoder().decode(T.ProblemBody.self, from: response.body).code) ?? "")
        }
    }

    /// Offers the request to `provider` and has them accept: the job id.
    static func assign(_ h: D.Harness, _ client: some TestClientProtocol, request: ServiceRequestView, index: ProviderPresenceIndex,
                       provider: T.Tokens) async throws -> String {
        try await h.dispatch.dispatch(try await D.createdEvent(h, requestID: request.id), index: index)
        let offers: [OfferView] = try await client.execute(uri: "/v1/offers", method: .get, headers: T.bearer(provider.accessToken)) { response throws in
            try JSONDecoder.iso.decode([OfferView].self, from: response.body)
        }
        let offer = try #require(offers.first { $0.requestId == request.id })
        return try await client.execute(uri: "/v1/offers/\(offer.id)/accept", method: .post, headers: T.bearer(provider.accessToken)) { response throws in
            #expect(response.status == .ok)
            return try JSONDecoder.iso.decode(DispatchService.Acceptance.self, from: response.body).jobId
        }
    }

    /// Dispatch's events so far, as the `payments` worker receives them from Kafka, in the order
    /// they were written (redelivered ones are skipped by its inbox).
    static func deliverDispatchEvents(_ h: D.Harness) async throws {
        let entries = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
            .find(["topic": ["$in": [.string(Topic.serviceRequests.rawValue), .string(Topic.jobs.rawValue)]]], options: FindOptions(sort: ["_id": 1]))
        let service = service(h)
        for entry in entries {
            try await service.apply(EventEnvelope(id: entry.eventId, source: entry.source, type: EventType(rawValue: entry.type), time: entry.time,
                                                  aggregateID: entry.aggregateId, data: Array(entry.data), traceparent: entry.traceparent),
                                    inbox: service.inbox)
        }
    }

    static func payment(_ client: some TestClientProtocol, _ id: String, token: String) async throws -> PaymentView {
        try await client.execute(uri: "/v1/payments/\(id)", method: .get, headers: T.bearer(token)) { response throws in
            #expect(response.status == .ok, "\(String(buffer: response.body))")
            return try JSONDecoder.iso.decode(PaymentView.self, from: response.body)
        }
    }

    static func move(_ client: some TestClientProtocol, _ job: String, to status: String, token: String,
                     finalAmount: (String, String)? = nil) async throws -> (HTTPResponse.Status, String) {
        var body: [String: Any] = ["status": status]
        if let finalAmount { body["finalAmount"] = ["amount": finalAmount.0, "currency": finalAmount.1] }
        return try await client.execute(uri: "/v1/jobs/\(job)/status", method: .post, headers: T.bearer(token), body: T.json(body)) {
            ($0.status, (try? JSONDecoder().decode(T.ProblemBody.self, from: $0.body).code) ?? "")
        }
    }

    static func paymentEvents(_ h: D.Harness, _ paymentID: String) async throws -> [String] {
        try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
            .find(["aggregateId": .string(paymentID)], options: FindOptions(sort: ["_id": 1])).map(\.type)
    }

    /// The payment document as stored.
    static func stored(_ h: D.Harness, _ id: String) async throws -> Payment {
        try #require(try await h.platform.mongo.collection("payments", as: Payment.self).findOne(["_id": .string(id)]))
    }

    static func money(_ amount: String, _ currency: String = "EUR") -> Money { Money(amount, currency: currency)! }

    /// The ledger check every payment test ends with: each transaction balances, each capture and
    /// refund has its postings.
    static func expectLedgerBalanced(_ h: D.Harness, _ client: some TestClientProtocol, admin: String) async throws {
        let check: PaymentService.LedgerCheck = try await client.execute(uri: "/v1/admin/ledger/check", method: .get, headers: T.bearer(admin)) { response throws in
            #expect(response.status == .ok)
            return try JSONDecoder.iso.decode(PaymentService.LedgerCheck.self, from: response.body)
        }
        #expect(check.ok, "unbalanced \(check.unbalanced), mismatched \(check.mismatched)")
        let sums = Dictionary(grouping: check.totals.values.flatMap { $0 }, by: \.currency).mapValues { $0.reduce(Decimal(0)) { $0 + $1.amount } }
        #expect(sums.values.allSatisfy { $0 == 0 }, "accounts sum to zero per currency: \(sums)")
    }

    // MARK: tests

    @Test("a hold at request, capture of the final amount at completion, split 85/15 in the ledger; no card → 402 and nothing created")
    func holdAndCapture() async throws {
        let h = try await D.harness(payments: Options())
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        try await h.app.test(.router) { client in
            let (admin, category) = try await D.adminAndCategory(h, client)
            let provider = try await D.onlineProvider(client, index: index, category: category, offsetLat: 0.01)
            let customer = try await T.register(client, email: T.email())

            // No card: 402, and no request exists (nothing to dispatch).
            #expect(try await Self.request(client, customer.accessToken, category: category).2 == "payment_method_required")
            let none: DispatchService.RequestPage = try await client.execute(uri: "/v1/requests", method: .get, headers: T.bearer(customer.accessToken)) {
                try JSONDecoder.iso.decode(DispatchService.RequestPage.self, from: $0.body)
            }
            #expect(none.total == 0)

            // Two cards: the later one asked as default is; listing says which.
            let first = try await Self.addCard(client, customer.accessToken)
            #expect(first.isDefault && first.last4 == "4242")
            let cards: [String: [CardMethod]] = try await client.execute(uri: "/v1/payments/methods", method: .get, headers: T.bearer(customer.accessToken)) {
                try JSONDecoder.iso.decode([String: [CardMethod]].self, from: $0.body)
            }
            #expect(cards["methods"]?.map(\.isDefault) == [true])

            let (status, created, _) = try await Self.request(client, customer.accessToken, category: category, budget: "80.00")
            #expect(status == .created)
            let request = try #require(created)
            #expect(request.hold == Self.money("80.00"))
            let paymentID = try #require(request.paymentId)
            let held = try await Self.payment(client, paymentID, token: customer.accessToken)
            #expect(held.status == .authorized && held.hold == Self.money("80.00"))
            let intent = try await Self.service(h).provider.intent(try await Self.stored(h, paymentID).intentId)
            #expect(intent.status == .requiresCapture && intent.amount == 8000 && intent.metadata["request_id"] == request.id)

            let job = try await Self.assign(h, client, request: request, index: index, provider: provider)
            for step in ["en_route", "arrived", "in_progress"] { #expect(try await Self.move(client, job, to: step, token: provider.accessToken).0 == .ok) }
            // The final amount: at most the hold, in its currency.
            #expect(try await Self.move(client, job, to: "completed", token: provider.accessToken, finalAmount: ("90.00", "EUR")) == (.unprocessableContent, "validation_failed"))
            #expect(try await Self.move(client, job, to: "completed", token: provider.accessToken, finalAmount: ("60.00", "USD")) == (.unprocessableContent, "validation_failed"))
            #expect(try await Self.move(client, job, to: "completed", token: provider.accessToken, finalAmount: ("64.00", "EUR")).0 == .ok)

            try await Self.deliverDispatchEvents(h)
            try await Self.deliverDispatchEvents(h)  // redelivered: nothing more happens
            let captured = try await Self.payment(client, paymentID, token: provider.accessToken)
            #expect(captured.status == .captured && captured.captured == Self.money("64.00") && captured.platformFee == Self.money("9.60"))
            #expect(try await Self.service(h).provider.intent(intent.id).net == 6400, "Stripe captured 64.00 once")
            #expect(try await Self.paymentEvents(h, paymentID) == [PaymentEvents.authorized.rawValue, PaymentEvents.captured.rawValue])

            // The provider's earnings: 85 % of the capture; the job's payments for its parties only.
            let earnings: PaymentService.Earnings = try await client.execute(uri: "/v1/providers/me/earnings", method: .get, headers: T.bearer(provider.accessToken)) {
                #expect($0.status == .ok)
                return try JSONDecoder.iso.decode(PaymentService.Earnings.self, from: $0.body)
            }
            #expect(earnings.balance == [Self.money("54.40")] && earnings.postings.map(\.amount) == [Self.money("54.40")])
            try await client.execute(uri: "/v1/payments?jobId=\(job)", method: .get, headers: T.bearer(customer.accessToken)) { #expect($0.status == .ok) }
            let stranger = try await T.register(client, email: T.email())
            try await client.execute(uri: "/v1/payments?jobId=\(job)", method: .get, headers: T.bearer(stranger.accessToken)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/payments/\(paymentID)", method: .get, headers: T.bearer(stranger.accessToken)) { #expect($0.status == .notFound) }
            try await client.execute(uri: "/v1/providers/me/earnings", method: .get, headers: T.bearer(customer.accessToken)) { #expect($0.status == .forbidden) }
            try await Self.expectLedgerBalanced(h, client, admin: admin)
        }
        await DispatchTests.close(h)
    }
}
