import Foundation
import Hummingbird
import HTTPTypes
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
        try await JobTests.accepted(h, client, requestID: request.id, index: index, provider: provider)
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

    @Test("voids: a request cancelled while searching, one nobody took, a job cancelled before en_route; a client's cancellation after en_route captures the fee")
    func voidsAndFees() async throws {
        let h = try await D.harness(payments: Options())
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        try await h.app.test(.router) { client in
            let (admin, category) = try await D.adminAndCategory(h, client)
            let provider = try await D.onlineProvider(client, index: index, category: category, offsetLat: 0.01)
            let customer = try await T.register(client, email: T.email())
            try await Self.addCard(client, customer.accessToken)

            // Cancelled while searching.
            let searching = try #require(try await Self.request(client, customer.accessToken, category: category).1)
            try await client.execute(uri: "/v1/requests/\(searching.id)/cancel", method: .post, headers: T.bearer(customer.accessToken),
                                     body: T.json(["reason": "changed my mind"])) { #expect($0.status == .ok) }
            // Nobody accepted in time (Dispatch's deadline event, as its wave timer writes it).
            let untaken = try #require(try await Self.request(client, customer.accessToken, category: category).1)
            try await h.platform.mongo.withTransaction { session in
                try Outbox.append(try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.requestUnfulfilled, aggregateID: untaken.id,
                                                    payload: DispatchEvents.RequestCancelled(requestId: untaken.id, clientId: customer.user.id,
                                                                                             reason: "nobody accepted in time")),
                                  to: .serviceRequests, in: session)
            }
            // A job cancelled while assigned: no fee, the hold is voided.
            let early = try #require(try await Self.request(client, customer.accessToken, category: category).1)
            let earlyJob = try await Self.assign(h, client, request: early, index: index, provider: provider)
            try await client.execute(uri: "/v1/jobs/\(earlyJob)/cancel", method: .post, headers: T.bearer(customer.accessToken),
                                     body: T.json(["reason": "found someone else"])) { #expect($0.status == .ok) }
            // The client cancels after the provider set off: Dispatch's fee (5.00) is captured, the rest released.
            let late = try #require(try await Self.request(client, customer.accessToken, category: category, budget: "40.00").1)
            let lateJob = try await Self.assign(h, client, request: late, index: index, provider: provider)
            #expect(try await Self.move(client, lateJob, to: "en_route", token: provider.accessToken).0 == .ok)
            try await client.execute(uri: "/v1/jobs/\(lateJob)/cancel", method: .post, headers: T.bearer(customer.accessToken),
                                     body: T.json(["reason": "too late"])) { #expect($0.status == .ok) }

            try await Self.deliverDispatchEvents(h)
            let service = Self.service(h)
            for request in [searching, untaken, early] {
                let payment = try await Self.stored(h, try #require(request.paymentId))
                #expect(payment.status == .voided, "\(request.id): \(payment.status)")
                #expect(try await service.provider.intent(payment.intentId).status == .canceled)
                #expect(try await Self.paymentEvents(h, payment._id) == [PaymentEvents.authorized.rawValue, PaymentEvents.voided.rawValue])
            }
            let fee = try await Self.stored(h, try #require(late.paymentId))
            #expect(fee.status == .captured && fee.captured == Self.money("5.00") && fee.platformFee == Self.money("0.75"))
            #expect(try await service.provider.intent(fee.intentId).net == 500, "5.00 captured, 35.00 released")
            let earnings: PaymentService.Earnings = try await client.execute(uri: "/v1/providers/me/earnings", method: .get, headers: T.bearer(provider.accessToken)) {
                try JSONDecoder.iso.decode(PaymentService.Earnings.self, from: $0.body)
            }
            #expect(earnings.balance == [Self.money("4.25")])
            try await Self.expectLedgerBalanced(h, client, admin: admin)
        }
        await DispatchTests.close(h)
    }

    @Test("a declined card: 402 payment_declined, no request, nothing dispatched; a category's default hold applies without a budget")
    func declinedAndDefaultHold() async throws {
        let h = try await D.harness(payments: Options())
        try await h.app.test(.router) { client in
            let (admin, category) = try await D.adminAndCategory(h, client)
            let declined = try await T.register(client, email: T.email())
            try await Self.addCard(client, declined.accessToken, "pm_card_chargeCustomerFail")
            let (status, _, code) = try await Self.request(client, declined.accessToken, category: category)
            #expect(status == HTTPResponse.Status(code: 402) && code == "payment_declined")
            let outbox = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
                .count(["type": .string(DispatchEvents.requestCreated.rawValue)])
            #expect(outbox == 0, "nothing to dispatch")
            #expect(try await h.platform.mongo.collection("service_requests", as: BSONDocument.self).count(["clientId": .string(declined.user.id)]) == 0)

            // Admins set a category's default hold; a request without a budget is held for it.
            let slug = TestServers.unique("held")
            try await client.execute(uri: "/v1/categories", method: .post, headers: T.bearer(admin),
                                     body: T.json(["slug": slug, "name": "Held", "defaultHold": ["amount": "120.00", "currency": "BRL"]])) {
                #expect($0.status == .created)
            }
            try await client.execute(uri: "/v1/categories", method: .post, headers: T.bearer(admin),
                                     body: T.json(["slug": TestServers.unique("bad"), "name": "Bad", "defaultHold": ["amount": "1.001", "currency": "EUR"]])) {
                #expect($0.status == .unprocessableContent)
            }
            let customer = try await T.register(client, email: T.email())
            try await Self.addCard(client, customer.accessToken)
            let request = try #require(try await Self.request(client, customer.accessToken, category: slug, budget: nil).1)
            #expect(request.hold == Self.money("120.00", "BRL"))
            let payment = try await Self.stored(h, try #require(request.paymentId))
            let intent = try await Self.service(h).provider.intent(payment.intentId)
            #expect(intent.amount == 12000 && intent.currency == "BRL")
            // Without either: the platform's default (50.00 in the default currency).
            let plain = try #require(try await Self.request(client, customer.accessToken, category: category, budget: nil).1)
            #expect(plain.hold == Self.money("50.00"))
            try await Self.expectLedgerBalanced(h, client, admin: admin)
        }
        await DispatchTests.close(h)
    }

    @Test("the payment service hangs: 503 payment_unavailable and no request; the circuit opens and answers at once; closes after a probe; a capture cut off is retried with its key until it succeeds, once")
    func outageAndCircuitBreaker() async throws {
        let stripe = try await LocalstripeProcess()
        // Margins for a loaded machine: a call waits 2 s for the frozen service; the circuit stays
        // open 6 s, long after the checks that it answers at once (< 2 s, half the timeout).
        let h = try await D.harness(payments: Options(stripeURL: stripe.url, attempts: 1, timeout: .seconds(4), breakerFailures: 2, breakerOpen: .seconds(6)))
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        let breaker = h.payments!.breaker
        try await h.app.test(.router) { client in
            let (admin, category) = try await D.adminAndCategory(h, client)
            let provider = try await D.onlineProvider(client, index: index, category: category, offsetLat: 0.01)
            let customer = try await T.register(client, email: T.email())
            try await Self.addCard(client, customer.accessToken)
            let openedAt = Date()

            stripe.freeze()
            for _ in 0..<2 {
                let (status, _, code) = try await Self.request(client, customer.accessToken, category: category)
                #expect(status == .serviceUnavailable && code == "payment_unavailable")
            }
            #expect(breaker.state == .open)
            let started = ContinuousClock.now
            #expect(try await Self.request(client, customer.accessToken, category: category).2 == "payment_unavailable")
            #expect(ContinuousClock.now - started < .seconds(2), "an open circuit answers without waiting for the timeout")
            let page: DispatchService.RequestPage = try await client.execute(uri: "/v1/requests", method: .get, headers: T.bearer(customer.accessToken)) {
                try JSONDecoder.iso.decode(DispatchService.RequestPage.self, from: $0.body)
            }
            #expect(page.total == 0, "no request without a hold")
            // Readiness reports the open circuit without taking the API out of service.
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("\"stripe-circuit\":\"open"), "\(String(buffer: response.body))")
            }

            stripe.thaw()
            #expect(try await eventually(timeout: .seconds(10)) { breaker.state == .halfOpen }, "half-open once the 6 s are over")
            let (status, created, _) = try await Self.request(client, customer.accessToken, category: category)
            #expect(status == .created && breaker.state == .closed, "the probe succeeded and closed the circuit")
            let request = try #require(created)

            // The capture at completion meets a hung service: it stays pending, retried with its key.
            let job = try await Self.assign(h, client, request: request, index: index, provider: provider)
            for step in ["en_route", "arrived", "in_progress", "completed"] { #expect(try await Self.move(client, job, to: step, token: provider.accessToken).0 == .ok) }
            stripe.freeze()
            try await Self.deliverDispatchEvents(h)
            let cut = try await Self.stored(h, try #require(request.paymentId))
            #expect(cut.status == .authorized && cut.pending?.kind == .capture && (cut.pending?.attempts ?? 0) >= 1, "\(cut)")
            stripe.thaw()
            let service = Self.service(h)
            #expect(try await eventually(timeout: .seconds(20)) {
                try await service.retryDueOperations()
                return try await Self.stored(h, cut._id).status == .captured
            })
            #expect(try await service.provider.intent(cut.intentId).net == 8000, "captured once, in full")
            #expect(try await h.platform.mongo.collection("ledger_transactions", as: BSONDocument.self).count(["paymentId": .string(cut._id)]) == 1)
            try await Self.expectLedgerBalanced(h, client, admin: admin)

            // Holds whose answer was lost in the outage are known to Stripe only: reconciliation names them.
            let differences = try await service.reconcile(openedAt.addingTimeInterval(-60)..<Date().addingTimeInterval(60))
            print("reconciliation after the outage: \(differences)")
            #expect(differences.allSatisfy { $0.paymentId == nil && $0.problem.contains("that no payment records") }, "\(differences)")
        }
        await DispatchTests.close(h)
        await stripe.stop()
    }

    @Test("webhooks: a capture Stripe made while we were not listening arrives signed and is folded in; forged, stale, tampered and malformed bodies are refused; duplicates, replays and events out of order change nothing")
    func webhooks() async throws {
        let options = Options()
        let h = try await D.harness(payments: options)
        let (group, running) = NotificationTests.run([try h.worker("payments-webhooks")])
        let service = Self.service(h)
        let secret = options.webhookSecrets[0]
        try await h.app.test(.live) { client in
            // localstripe delivers every event to this process, signed with this test's secret.
            let stripe = try #require(service.provider as? StripeClient)
            try await stripe.registerLocalstripeWebhook(id: TestServers.unique("hook"), url: "http://127.0.0.1:\(client.port!)/v1/payments/webhooks/stripe",
                                                        secret: secret)
            let (admin, category) = try await D.adminAndCategory(h, client)
            let customer = try await T.register(client, email: T.email())
            try await Self.addCard(client, customer.accessToken)
            let request = try #require(try await Self.request(client, customer.accessToken, category: category).1)
            let payment = try await Self.stored(h, try #require(request.paymentId))

            // Captured at Stripe, and the answer never recorded (a crash): the webhook tells us.
            _ = try await stripe.capture(intent: payment.intentId, amount: 8000, idempotencyKey: "capture-\(payment._id)")
            let events = h.platform.mongo.collection("payment_webhook_events", as: BSONDocument.self)
            #expect(try await eventually(timeout: .seconds(20)) { try await Self.stored(h, payment._id).status == .captured }, "folded in by the worker")
            let captured = try await Self.stored(h, payment._id)
            #expect(captured.captured == Self.money("80.00") && captured.platformFee == Self.money("12.00"))
            let stored = try #require(try await events.find(["type": "payment_intent.succeeded"]).first { ($0["body"].flatMap { if case .string(let text) = $0 { text } else { nil } } ?? "").contains(payment.intentId) })
            guard case .string(let eventID) = stored["_id"], case .string(let body) = stored["body"] else { Issue.record("stored event"); return }

            func post(_ body: String, signature: String?) async throws -> (HTTPResponse.Status, String) {
                var headers: HTTPFields = [.contentType: "application/json"]
                if let signature { headers[HTTPField.Name("Stripe-Signature")!] = signature }
                return try await client.execute(uri: "/v1/payments/webhooks/stripe", method: .post, headers: headers, body: ByteBuffer(string: body)) {
                    ($0.status, String(buffer: $0.body))
                }
            }
            func signed(_ body: String, at time: Date = Date()) -> String { StripeSignature.header(secret: secret, body: Array(body.utf8), time: time) }

            // Refused, nothing stored (a fresh event id: had any been accepted, it would be there).
            // localstripe goes on delivering other tests' events here meanwhile: count this id only.
            let probeID = "evt_probe_\(UUID().uuidString.prefix(8))"
            let probe = body.replacingOccurrences(of: eventID, with: probeID)
            #expect(try await post(probe, signature: nil).0 == .badRequest)
            #expect(try await post(probe, signature: StripeSignature.header(secret: "whsec_forged", body: Array(probe.utf8))).1.contains("invalid_signature"))
            #expect(try await post(probe, signature: signed(probe, at: Date().addingTimeInterval(-400))).1.contains("stale_signature"))
            #expect(try await post(probe + " ", signature: signed(probe)).1.contains("invalid_signature"), "the signature covers the raw bytes")
            #expect(try await post("{not json", signature: signed("{not json")).1.contains("malformed_event"))
            #expect(try await events.count(["_id": .string(probeID)]) == 0)

            // Stripe's retry of the same event: acknowledged, not stored again.
            let again = try await post(body, signature: signed(body))
            #expect(again.0 == .ok && again.1.contains("\"duplicate\":true"))
            // An unknown type: acknowledged and ignored. An old event arriving late (the hold's
            // cancellation, as if it were news): Stripe says captured, so nothing changes.
            let unknown = #"{"id":"evt_\#(UUID().uuidString)","type":"customer.tax_id.created","data":{"object":{}}}"#
            #expect(try await post(unknown, signature: signed(unknown)).0 == .ok)
            let late = #"{"id":"evt_\#(UUID().uuidString)","type":"payment_intent.canceled","data":{"object":{"id":"\#(payment.intentId)","object":"payment_intent","status":"canceled"}}}"#
            #expect(try await post(late, signature: signed(late)).0 == .ok)
            #expect(try await eventually(timeout: .seconds(10)) { try await events.count(["processedAt": .null]) == 0 })
            let outcomes = try await events.find(["_id": ["$in": [.string(eventID), .string(Self.id(of: unknown)), .string(Self.id(of: late))]]])
                .reduce(into: [String: String]()) { result, event in
                    if case .string(let id) = event["_id"], case .string(let outcome) = event["outcome"] { result[id] = outcome }
                }
            #expect(outcomes == [eventID: "applied", Self.id(of: unknown): "ignored", Self.id(of: late): "no_change"])
            #expect(try await service.replayWebhook(id: eventID) == "no_change", "a replay converges to the same state")
            #expect(try await Self.stored(h, payment._id).status == .captured)
            #expect(try await Self.paymentEvents(h, payment._id) == [PaymentEvents.authorized.rawValue, PaymentEvents.captured.rawValue])
            try await Self.expectLedgerBalanced(h, client, admin: admin)
        }
        await group.triggerGracefulShutdown()
        _ = await running.result
        await DispatchTests.close(h)
    }

    static func id(of body: String) -> String {
        ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any])?["id"] as? String ?? ""
    }

    @Test("through Kafka and the workers: completion captures; partial and full refunds reverse the split; refunds above the capture or in another currency are refused; the client gets a receipt and refund notices")
    func refundsThroughTheWorkers() async throws {
        let h = try await D.harness(payments: Options())
        for topic in h.topics.names([.serviceRequests, .jobs, .offers, .payments]) { try await h.platform.admin.ensureTopic(topic, partitions: 2) }
        try await NotificationTests.ensureTopics(h)
        let (group, running) = NotificationTests.run([
            OutboxRelay(mongo: h.platform.mongo, producer: h.platform.producer, topics: h.topics, configuration: .init(idleInterval: .milliseconds(20))),
            try h.worker("payments"), try h.worker("notifications"),
        ])
        let index = ProviderPresenceIndex(redis: h.platform.redis)
        try await h.app.test(.router) { client in
            let (admin, category) = try await D.adminAndCategory(h, client)
            let provider = try await D.onlineProvider(client, index: index, category: category, offsetLat: 0.01)
            let customer = try await T.register(client, email: T.email())
            try await Self.addCard(client, customer.accessToken)
            let request = try #require(try await Self.request(client, customer.accessToken, category: category, budget: "80.00").1)
            let paymentID = try #require(request.paymentId)
            let job = try await Self.assign(h, client, request: request, index: index, provider: provider)
            for step in ["en_route", "arrived", "in_progress", "completed"] { #expect(try await Self.move(client, job, to: step, token: provider.accessToken).0 == .ok) }
            #expect(try await eventually(timeout: .seconds(45)) { try await Self.stored(h, paymentID).status == .captured }, "captured by the payments worker")

            func refund(_ body: [String: Any]) async throws -> (HTTPResponse.Status, String) {
                try await client.execute(uri: "/v1/admin/payments/\(paymentID)/refund", method: .post, headers: T.bearer(admin), body: T.json(body)) {
                    ($0.status, String(buffer: $0.body))
                }
            }
            #expect(try await refund(["amount": ["amount": "90.00", "currency": "EUR"], "reason": "too much"]).1.contains("at most 80.00"))
            #expect(try await refund(["amount": ["amount": "10.00", "currency": "USD"], "reason": "wrong currency"]).0 == .unprocessableContent)
            #expect(try await refund(["amount": ["amount": "10.00", "currency": "EUR"]]).0 == .badRequest, "a reason is required")
            try await client.execute(uri: "/v1/admin/payments/\(paymentID)/refund", method: .post, headers: T.bearer(customer.accessToken),
                                     body: T.json(["reason": "me"])) { #expect($0.status == .forbidden) }

            let partial = try await refund(["amount": ["amount": "20.00", "currency": "EUR"], "reason": "late arrival"])
            #expect(partial.0 == .ok && partial.1.contains("partially_refunded"), "\(partial)")
            var earnings: PaymentService.Earnings = try await client.execute(uri: "/v1/providers/me/earnings", method: .get, headers: T.bearer(provider.accessToken)) {
                try JSONDecoder.iso.decode(PaymentService.Earnings.self, from: $0.body)
            }
            #expect(earnings.balance == [Self.money("51.00")], "68.00 earned, 17.00 (85 % of the refund) given back")
            #expect(earnings.postings.map(\.amount) == [Self.money("-17.00"), Self.money("68.00")])
            let full = try await refund(["reason": "the rest"])
            #expect(full.0 == .ok && full.1.contains("\"status\":\"refunded\""), "\(full)")
            #expect(try await refund(["reason": "again"]).0 == .conflict)
            earnings = try await client.execute(uri: "/v1/providers/me/earnings?limit=1", method: .get, headers: T.bearer(provider.accessToken)) {
                try JSONDecoder.iso.decode(PaymentService.Earnings.self, from: $0.body)
            }
            #expect(earnings.balance == [Self.money("0.00")] && earnings.postings.count == 1 && earnings.nextCursor != nil)
            let rest: PaymentService.Earnings = try await client.execute(uri: "/v1/providers/me/earnings?limit=5&cursor=\(earnings.nextCursor!)", method: .get,
                                                                         headers: T.bearer(provider.accessToken)) {
                try JSONDecoder.iso.decode(PaymentService.Earnings.self, from: $0.body)
            }
            #expect(rest.postings.map(\.amount) == [Self.money("-17.00"), Self.money("68.00")])
            let payment = try await Self.stored(h, paymentID)
            #expect(try await Self.service(h).provider.intent(payment.intentId).net == 0, "Stripe refunded everything")
            let check = try await Self.service(h).checkLedger()
            #expect(check.totals["platform:fees"] == [Self.money("0.00")] && check.totals["psp:clearing"] == [Self.money("0.00")])
            #expect(try await Self.paymentEvents(h, paymentID) == [PaymentEvents.authorized, PaymentEvents.captured, PaymentEvents.refunded, PaymentEvents.refunded].map(\.rawValue))
            #expect(try await Self.service(h).reconcile(payment.createdAt.addingTimeInterval(-1)..<Date()).filter { $0.paymentId == paymentID }.isEmpty)
            try await Self.expectLedgerBalanced(h, client, admin: admin)

            // The client's feed: a receipt for the capture, a notice for each refund (pt-BR by default).
            #expect(try await eventually(timeout: .seconds(30)) {
                try await NotificationTests.feed(client, token: customer.accessToken).notifications.filter { $0.kind.hasPrefix("payment-") }.count == 3
            })
            let payments = try await NotificationTests.feed(client, token: customer.accessToken).notifications.filter { $0.kind.hasPrefix("payment-") }
            #expect(Set(payments.map(\.body)) == ["Você pagou 80.00 EUR pelo serviço com Ana Lima. O restante da reserva foi liberado.",
                                                  "Devolvemos 20.00 EUR ao seu cartão. Motivo: late arrival",
                                                  "Devolvemos 60.00 EUR ao seu cartão. Motivo: the rest"], "\(payments.map(\.body))")
        }
        await group.triggerGracefulShutdown()
        _ = await running.result
        await DispatchTests.close(h)
    }

    @Test("Stripe-Signature: an HMAC-SHA256 over t.body as OpenSSL computes it; any of two secrets during a rotation; a 300 s window")
    func signature() async throws {
        let body = #"{"id":"evt_1","type":"payment_intent.succeeded"}"#
        let time = Date(timeIntervalSince1970: 1_796_000_000)
        let (status, output) = try await ChildProcess.capture(["/bin/sh", "-c", "printf '%s' '1796000000.\(body)' | openssl dgst -sha256 -hmac whsec_test"])
        #expect(status == 0)
        let expected = try #require(output.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        #expect(StripeSignature.header(secret: "whsec_test", body: Array(body.utf8), time: time) == "t=1796000000,v1=\(expected)")
        let rotating = StripeSignature(secrets: ["whsec_new", "whsec_test"])
        #expect(throws: Never.self) { try rotating.verify(header: "t=1796000000,v1=00,v1=\(expected)", body: Array(body.utf8), now: time.addingTimeInterval(299)) }
        #expect(throws: StripeSignature.Failure.stale(age: 301)) { try rotating.verify(header: "t=1796000000,v1=\(expected)", body: Array(body.utf8), now: time.addingTimeInterval(301)) }
        #expect(throws: StripeSignature.Failure.noMatch) { try StripeSignature(secrets: ["whsec_new"]).verify(header: "t=1796000000,v1=\(expected)", body: Array(body.utf8), now: time) }
        #expect(throws: StripeSignature.Failure.malformedHeader) { try rotating.verify(header: "v1=\(expected)", body: Array(body.utf8), now: time) }
    }

    @Test("money: minor units, the fee split adds up, refunds in parts give back exactly the fee; the circuit breaker's states")
    func moneyAndBreaker() async throws {
        let policy = PaymentPolicy(takeRate: Decimal(string: "0.15")!)
        for cents in [1, 3, 7, 99, 101, 6_399, 12_345] {
            let capture = Money(minorUnits: cents, currency: "EUR")
            let (fee, provider) = policy.split(capture)
            #expect(fee + provider == capture && fee.minorUnits != nil && provider.minorUnits != nil)
            // Three refunds of a third each give back the whole fee, to the cent.
            var back = Money.zero("EUR"), refunded = Money.zero("EUR")
            let parts = [capture.times(Decimal(1) / 3), capture.times(Decimal(1) / 3)]
            for part in parts + [capture - parts[0] - parts[1]] {
                back = back + RefundSplit.fee(captured: capture, fee: fee, refundedBefore: refunded, refunding: part)
                refunded = refunded + part
            }
            #expect(back == fee, "\(cents): \(back) vs \(fee)")
        }
        #expect(Money("12.345", currency: "EUR")!.minorUnits == nil && Money("500", currency: "JPY")!.minorUnits == 500)

        let changes = LockedBox<[CircuitBreaker.State]>([])
        let breaker = CircuitBreaker(failureThreshold: 2, openFor: .milliseconds(100)) { state in changes.mutate { $0.append(state) } }
        breaker.failed()
        #expect(breaker.allow() && breaker.state == .closed)
        breaker.failed()
        #expect(!breaker.allow() && breaker.state == .open)
        try await Task.sleep(for: .milliseconds(120))
        #expect(breaker.allow() && !breaker.allow(), "half-open lets one probe through")
        breaker.failed()
        #expect(breaker.state == .open)
        try await Task.sleep(for: .milliseconds(120))
        #expect(breaker.allow())
        breaker.succeeded()
        #expect(breaker.state == .closed && breaker.allow())
        #expect(changes.value == [.open, .halfOpen, .open, .halfOpen, .closed])
    }
}

/// A value tests change from several tasks.
final class LockedBox<Value: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: Value
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}

