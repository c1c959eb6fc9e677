import Foundation
import Hummingbird
import Logging
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplacePlatform

/// Payments on the platform's seam: provides the `PaymentHolds` port Dispatch places holds
/// through (so it is built before Dispatch), uses Identity's `ContactDirectory` (when present)
/// for the Stripe customer's e-mail; reads no other module's data.
///
/// Configuration (`payments.*`): `stripe.url` (http://127.0.0.1:8420, localstripe, in development;
/// https://api.stripe.com in production), `stripe.secret.key` (required in production),
/// `stripe.api.version` (2024-06-20), `stripe.timeout` seconds (10), `stripe.attempts` (3),
/// `webhook.secrets` (comma-separated, two during a rotation; required in production),
/// `take.rate` (0.15), `breaker.failures` (5), `breaker.open` seconds (30),
/// `hold.unclaimed.after` seconds (600). In development `webhook.url`
/// (http://127.0.0.1:8080/v1/payments/webhooks/stripe) is registered with localstripe at start.
public struct PaymentsModule: ServiceModule {
    public static let name = "payments"
    public static var openAPI: OpenAPIFragment { PaymentsOpenAPI.fragment }

    public let service: PaymentService
    public let breaker: CircuitBreaker
    /// Development: localstripe's webhooks pointed at this process at prepare.
    let registerLocalWebhook: (@Sendable () async throws -> Void)?

    public init(context: ModuleContext) async throws {
        let section = context.configuration
        let production = context.platform.configuration.mode == .production
        let secretKey = try section.secret("stripe.secret.key") ?? (production ? nil : "sk_test_local")
        guard let secretKey else {
            throw ConfigurationError(key: "payments.stripe.secret.key", value: "", reason: "required in production (a Stripe secret key)")
        }
        let secrets = (try section.secret("webhook.secrets") ?? (production ? "" : "whsec_local"))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !secrets.isEmpty else {
            throw ConfigurationError(key: "payments.webhook.secrets", value: "", reason: "required in production (the webhook endpoint's signing secret)")
        }
        let rateText = try section.string("take.rate", default: "0.15")
        guard let rate = Money.parse(rateText), rate >= 0, rate < 1 else {
            throw ConfigurationError(key: "payments.take.rate", value: rateText, reason: "expected a fraction like 0.15")
        }
        let stripe = StripeConfiguration(
            baseURL: try section.string("stripe.url", default: production ? "https://api.stripe.com" : "http://127.0.0.1:8420"),
            secretKey: secretKey, apiVersion: try section.string("stripe.api.version", default: "2024-06-20"),
            timeout: .milliseconds(Int(try section.seconds("stripe.timeout", default: 10, in: 0.1...120) * 1000)),
            attempts: try section.integer("stripe.attempts", default: 3, in: 1...10))
        let breaker = Self.breaker(failures: try section.integer("breaker.failures", default: 5, in: 1...1_000),
                                   openFor: .milliseconds(Int(try section.seconds("breaker.open", default: 30, in: 0.1...3_600) * 1000)))
        let metrics = PaymentMetrics()
        let client = StripeClient(configuration: stripe, breaker: breaker) { operation, outcome, seconds in
            metrics.providerCall(operation, outcome, seconds: seconds)
        }
        let policy = PaymentPolicy(takeRate: rate, unclaimedHoldAfter: try section.seconds("hold.unclaimed.after", default: 600, in: 1...604_800))
        let service = PaymentService(mongo: context.mongo, provider: client, webhookSecrets: secrets,
                                     contacts: context.ports.optional((any ContactDirectory).self),
                                     settings: .init(policy: policy), logger: context.logger)
        var register: (@Sendable () async throws -> Void)?
        if !production {
            let url = try section.string("webhook.url", default: "http://127.0.0.1:8080/v1/payments/webhooks/stripe")
            register = { try await client.registerLocalstripeWebhook(id: "marketplace-dev", url: url, secret: secrets[0]) }
        }
        self.init(service: service, breaker: breaker, ports: context.ports, registerLocalWebhook: register)
    }

    /// A module over a service built by the caller (tests choose the provider and settings).
    public init(service: PaymentService, breaker: CircuitBreaker, ports: Ports, registerLocalWebhook: (@Sendable () async throws -> Void)? = nil) {
        self.service = service
        self.breaker = breaker
        self.registerLocalWebhook = registerLocalWebhook
        ports.provide((any PaymentHolds).self, service, by: Self.name)
    }

    /// A breaker whose state is the `stripe_circuit_state` gauge (0 closed, 1 half-open, 2 open).
    public static func breaker(failures: Int, openFor: Duration) -> CircuitBreaker {
        let gauge = PaymentMetrics().circuit
        gauge.record(0)
        return CircuitBreaker(failureThreshold: failures, openFor: openFor) { state in
            gauge.record(state == .closed ? 0 : state == .halfOpen ? 1 : 2)
        }
    }

    public func prepare() async throws {
        try await service.prepare()
        if let registerLocalWebhook {
            do { try await registerLocalWebhook() } catch {
                service.logger.warning("localstripe's webhooks not pointed at this process (is localstripe running?): \(error)")
            }
        }
    }

    public func addRoutes(to router: Router<AppRequestContext>) {
        PaymentRoutes.register(on: router, service: service)
    }

    /// The circuit's state, reported without making the process unready (see `ReadinessCheck`).
    public var readinessChecks: [ReadinessCheck] {
        [ReadinessCheck(name: "stripe-circuit", critical: false) { [breaker] in
            guard breaker.state != .open else { throw CircuitOpen() }
        }]
    }

    struct CircuitOpen: Error, CustomStringConvertible {
        var description: String { "open: Stripe failed repeatedly; holds answer 503 payment_unavailable until a probe succeeds" }
    }

    public static var workers: [WorkerDefinition<PaymentsModule>] {
        [
            // Dispatch's events move the money (PaymentPolicy), once each through the inbox; pending
            // Stripe calls are made again when due; holds no request claimed are voided.
            .consumer("payments", summary: "captures, voids and splits payments as requests and jobs move") { module in
                ConsumerWorker(topics: [.serviceRequests, .jobs], group: "payments", fetchWaitMaxMillis: 50, chores: [
                    PeriodicChore("retrying pending payment operations", every: .seconds(1)) { try await module.service.retryDueOperations() },
                    PeriodicChore("voiding unclaimed holds", every: .seconds(30)) { try await module.service.voidUnclaimedHolds() },
                ]) { [inbox = module.service.inbox] event in
                    try await module.service.apply(event, inbox: inbox)
                }
            },
            // Stored webhook events, folded in by reading the PaymentIntent back from Stripe.
            .service("payments-webhooks", summary: "processes Stripe's stored webhook events") { module, context in
                ChoreService([PeriodicChore("processing payment webhooks", every: .milliseconds(200)) {
                    try await module.service.processWebhooks()
                }], logger: module.service.logger)
            },
        ]
    }
}

extension PaymentService {
    /// The `payments` worker's inbox (`inbox_payments`).
    public var inbox: Inbox { Inbox(mongo: mongo, consumer: "payments") }
}
