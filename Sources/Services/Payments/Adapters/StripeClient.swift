import AsyncHTTPClient
import Foundation
import Logging
import MarketplaceContracts
import NIOCore
import NIOHTTP1

/// Where and how Stripe is reached: real Stripe in production, localstripe locally.
public struct StripeConfiguration: Sendable {
    public var baseURL: String
    public var secretKey: String
    /// Pinned, so that Stripe's answers keep the shape this client reads.
    public var apiVersion: String
    public var timeout: Duration
    /// Attempts per call on network errors and 5xx (never on 4xx: they would fail again).
    public var attempts: Int
    public var backoff: Duration

    public init(baseURL: String = "http://127.0.0.1:8420", secretKey: String = "sk_test_local", apiVersion: String = "2024-06-20",
                timeout: Duration = .seconds(10), attempts: Int = 3, backoff: Duration = .milliseconds(200)) {
        self.baseURL = baseURL
        self.secretKey = secretKey
        self.apiVersion = apiVersion
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
    }
}

/// Stripe's REST API over async-http-client: form-encoded bodies (as real Stripe requires), an
/// `Idempotency-Key` on every POST, `expand[]=latest_charge` so that PaymentIntents have one
/// shape everywhere, retries with full-jitter backoff on network errors and 5xx only, and a
/// circuit breaker in front of it all.
public struct StripeClient: PaymentProvider {
    public let configuration: StripeConfiguration
    public let breaker: CircuitBreaker
    let http: HTTPClient
    let onCall: @Sendable (_ operation: String, _ outcome: String, _ seconds: Double) -> Void

    public init(configuration: StripeConfiguration, breaker: CircuitBreaker = CircuitBreaker(), http: HTTPClient = .shared,
                onCall: @escaping @Sendable (String, String, Double) -> Void = { _, _, _ in }) {
        self.configuration = configuration
        self.breaker = breaker
        self.http = http
        self.onCall = onCall
    }

    // MARK: PaymentProvider

    public func createCustomer(userID: String, email: String?, idempotencyKey: String) async throws -> String {
        var form: [(String, String)] = [("metadata[user_id]", userID)]
        if let email { form.append(("email", email)) }
        return try await post("/v1/customers", form, key: idempotencyKey, operation: "create_customer").string("id")
    }

    public func attach(paymentMethod: String, customer: String, idempotencyKey: String) async throws -> CardMethod {
        Self.card(try await post("/v1/payment_methods/\(Self.path(paymentMethod))/attach", [("customer", customer)], key: idempotencyKey, operation: "attach"))
    }

    public func detach(paymentMethod: String, idempotencyKey: String) async throws {
        _ = try await post("/v1/payment_methods/\(Self.path(paymentMethod))/detach", [], key: idempotencyKey, operation: "detach")
    }

    public func paymentMethods(customer: String) async throws -> [CardMethod] {
        let list = try await get("/v1/payment_methods", [("customer", customer), ("type", "card"), ("limit", "100")], operation: "list_methods")
        return (list["data"] as? [[String: Any]] ?? []).map { Self.card(JSONObject($0)) }
    }

    public func authorize(_ hold: HoldRequest) async throws -> ProviderIntent {
        var form: [(String, String)] = [("amount", String(hold.amount)), ("currency", hold.currency.lowercased()),
                                        ("capture_method", "manual"), ("confirm", "true"), ("customer", hold.customer),
                                        ("payment_method", hold.paymentMethod), ("expand[]", "latest_charge")]
        for (key, value) in hold.metadata.sorted(by: { $0.key < $1.key }) { form.append(("metadata[\(key)]", value)) }
        return try Self.intent(await post("/v1/payment_intents", form, key: hold.idempotencyKey, operation: "authorize"))
    }

    public func capture(intent: String, amount: Int, idempotencyKey: String) async throws -> ProviderIntent {
        try Self.intent(await post("/v1/payment_intents/\(Self.path(intent))/capture", [("amount_to_capture", String(amount)), ("expand[]", "latest_charge")],
                                   key: idempotencyKey, operation: "capture"))
    }

    public func cancel(intent: String, idempotencyKey: String) async throws -> ProviderIntent {
        try Self.intent(await post("/v1/payment_intents/\(Self.path(intent))/cancel", [("expand[]", "latest_charge")], key: idempotencyKey, operation: "cancel"))
    }

    public func refund(intent: String, amount: Int, idempotencyKey: String, metadata: [String: String]) async throws -> String {
        var form: [(String, String)] = [("payment_intent", intent), ("amount", String(amount))]
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) { form.append(("metadata[\(key)]", value)) }
        return try await post("/v1/refunds", form, key: idempotencyKey, operation: "refund").string("id")
    }

    public func intent(_ id: String) async throws -> ProviderIntent {
        try Self.intent(await get("/v1/payment_intents/\(Self.path(id))", [("expand[]", "latest_charge")], operation: "retrieve"))
    }

    public func intents(createdIn range: Range<Date>) async throws -> [ProviderIntent] {
        var found: [ProviderIntent] = []
        var after: String?
        // Newest first; stop at the first page that reaches before the range.
        for _ in 0..<1_000 {
            var query: [(String, String)] = [("limit", "100"), ("expand[]", "data.latest_charge")]
            if let after { query.append(("starting_after", after)) }
            let page = try await get("/v1/payment_intents", query, operation: "list_intents")
            let items = try (page["data"] as? [[String: Any]] ?? []).map { try Self.intent(JSONObject($0)) }
            found += items.filter { range.contains($0.created) }
            guard page["has_more"] as? Bool == true, let last = items.last, last.created >= range.lowerBound else { break }
            after = last.id
        }
        return found
    }

    /// localstripe only (development and tests): deliver its webhooks for every event to `url`,
    /// signed with `secret`. Real Stripe's endpoints are set up in its dashboard.
    public func registerLocalstripeWebhook(id: String, url: String, secret: String) async throws {
        _ = try await exchange("POST", "/_config/webhooks/\(Self.path(id))", query: [], form: [("url", url), ("secret", secret)], key: nil, answersJSON: false)
    }

    // MARK: HTTP

    private func post(_ path: String, _ form: [(String, String)], key: String, operation: String) async throws -> JSONObject {
        try await call("POST", path, query: [], form: form, key: key, operation: operation)
    }

    private func get(_ path: String, _ query: [(String, String)], operation: String) async throws -> JSONObject {
        try await call("GET", path, query: query, form: [], key: nil, operation: operation)
    }

    private func call(_ method: String, _ path: String, query: [(String, String)], form: [(String, String)], key: String?,
                      operation: String) async throws -> JSONObject {
        guard breaker.allow() else {
            onCall(operation, "circuit_open", 0)
            throw PaymentProviderError.unavailable("circuit open: Stripe failed repeatedly")
        }
        let started = ContinuousClock.now
        var attempt = 0
        while true {
            attempt += 1
            do {
                let result = try await exchange(method, path, query: query, form: form, key: key)
                breaker.succeeded()
                onCall(operation, "ok", Self.seconds(since: started))
                return result
            } catch let error as PaymentProviderError {
                if !error.isTransient {
                    breaker.succeeded()  // Stripe answered: it is up, the request was refused
                    onCall(operation, Self.outcome(error), Self.seconds(since: started))
                    throw error
                }
                guard attempt < configuration.attempts else {
                    breaker.failed()
                    onCall(operation, "unavailable", Self.seconds(since: started))
                    throw error
                }
                // Full jitter: a random wait up to backoff × 2^attempt.
                let ceiling = configuration.backoff * (1 << (attempt - 1))
                try await Task.sleep(for: ceiling * Double.random(in: 0...1))
            }
        }
    }

    private func exchange(_ method: String, _ path: String, query: [(String, String)], form: [(String, String)], key: String?,
                          answersJSON: Bool = true) async throws -> JSONObject {
        var url = configuration.baseURL + path
        if !query.isEmpty { url += "?" + Self.formEncode(query) }
        var request = HTTPClientRequest(url: url)
        request.method = HTTPMethod(rawValue: method)
        let credentials = Data("\(configuration.secretKey):".utf8).base64EncodedString()
        request.headers.add(name: "Authorization", value: "Basic \(credentials)")
        request.headers.add(name: "Stripe-Version", value: configuration.apiVersion)
        if method == "POST" {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            if let key { request.headers.add(name: "Idempotency-Key", value: key) }
            request.body = .bytes(ByteBuffer(string: Self.formEncode(form)))
        }
        let response: HTTPClientResponse
        let body: ByteBuffer
        do {
            response = try await http.execute(request, timeout: TimeAmount(configuration.timeout))
            body = try await response.body.collect(upTo: 4 << 20)
        } catch {
            throw PaymentProviderError.unavailable("\(method) \(path): \(error)")
        }
        let status = Int(response.status.code)
        let object = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any]
        if (200..<300).contains(status), let object { return JSONObject(object) }
        if (200..<300).contains(status), !answersJSON { return JSONObject([:]) }
        let error = (object?["error"] as? [String: Any]).map(JSONObject.init)
        let message = error?["message"] as? String ?? String(buffer: body).prefix(200).description
        let code = error?["code"] as? String
        switch status {
        case 402: throw PaymentProviderError.declined(code: error?["decline_code"] as? String ?? code ?? "card_declined", message: message)
        case 404: throw PaymentProviderError.notFound("\(path): \(message)")
        case 409, 429, 500...: throw PaymentProviderError.unavailable("\(status) \(method) \(path): \(message)")
        default:
            if code == "card_declined" || error?["type"] as? String == "card_error" {
                throw PaymentProviderError.declined(code: error?["decline_code"] as? String ?? code ?? "card_declined", message: message)
            }
            throw PaymentProviderError.invalid(status: status, code: code, message: message)
        }
    }

    // MARK: decoding

    static func intent(_ object: JSONObject) throws -> ProviderIntent {
        guard let id = object["id"] as? String, let statusText = object["status"] as? String,
              let status = ProviderIntent.Status(rawValue: statusText), let amount = object["amount"] as? Int,
              let currency = object["currency"] as? String else {
            throw PaymentProviderError.invalid(status: 200, code: nil, message: "a PaymentIntent without id, status, amount or currency")
        }
        // The charge says what was captured and what the client paid in the end. Real Stripe
        // reports `amount_captured`; localstripe does not, and releases the uncaptured rest of a
        // partial capture as a refund, so only the net (captured less refunded) means the same on both.
        let charge = (object["latest_charge"] as? [String: Any]).map(JSONObject.init)
        var captured: Int?
        var net: Int?
        if let charge, charge["captured"] as? Bool == true {
            let refunded = charge["amount_refunded"] as? Int ?? 0
            captured = charge["amount_captured"] as? Int ?? object["amount_received"] as? Int
            net = (captured ?? charge["amount"] as? Int ?? amount) - refunded
        }
        let metadata = (object["metadata"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
        return ProviderIntent(id: id, status: status, amount: amount, currency: currency.uppercased(), captured: captured, net: net,
                              created: Date(timeIntervalSince1970: TimeInterval(object["created"] as? Int ?? 0)), metadata: metadata)
    }

    static func card(_ object: JSONObject) -> CardMethod {
        let card = (object["card"] as? [String: Any]).map(JSONObject.init)
        return CardMethod(id: object["id"] as? String ?? "", brand: card?["brand"] as? String, last4: card?["last4"] as? String,
                          expMonth: card?["exp_month"] as? Int, expYear: card?["exp_year"] as? Int)
    }

    /// `application/x-www-form-urlencoded`: everything but unreserved characters escaped
    /// (brackets in `metadata[job_id]` too, as Stripe's own libraries send them).
    static func formEncode(_ pairs: [(String, String)]) -> String {
        pairs.map { "\(escape($0.0))=\(escape($0.1))" }.joined(separator: "&")
    }

    static let unreserved = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")
    static func escape(_ text: String) -> String { text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text }
    static func path(_ id: String) -> String { escape(id) }

    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    static func outcome(_ error: PaymentProviderError) -> String {
        switch error {
        case .declined: "declined"
        case .invalid: "invalid"
        case .notFound: "not_found"
        case .unavailable: "unavailable"
        }
    }
}

/// A decoded JSON object, Sendable for passing between tasks (its values are plain JSON).
struct JSONObject: @unchecked Sendable {
    let values: [String: Any]
    init(_ values: [String: Any]) { self.values = values }
    subscript(key: String) -> Any? { values[key] }

    func string(_ key: String) throws -> String {
        guard let value = values[key] as? String else {
            throw PaymentProviderError.invalid(status: 200, code: nil, message: "the answer has no \(key)")
        }
        return value
    }
}
