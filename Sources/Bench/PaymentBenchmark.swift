import AsyncHTTPClient
import CMongoc
import Foundation
import Hummingbird
import Logging
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMongo
import MarketplacePayments
import MarketplacePlatform
import NIOCore
import ServiceLifecycle

/// Stripe webhook intake: signature verified + event stored + 2xx, sequentially, through the
/// service and through HTTP (a live server, one keep-alive client), beside a raw libmongoc
/// insert loop of the same documents on the same server in the same run (the ceiling: storing
/// is the work); and signature verification alone.
public struct PaymentBenchmark: Sendable {
    public let platform: Platform
    public var events: Int
    public var rounds: Int
    public var port: Int

    public init(platform: Platform, events: Int, rounds: Int, port: Int = 8097) {
        self.platform = platform
        self.events = events
        self.rounds = rounds
        self.port = port
    }

    static let secret = "whsec_bench"

    /// A body shaped like Stripe's `payment_intent.succeeded` (about 2.5 KB).
    static func body(_ id: String) -> [UInt8] {
        let charge = #"{"amount":8000,"amount_refunded":0,"balance_transaction":"txn_1","captured":true,"created":1796210177,"currency":"eur","customer":"cus_1","id":"ch_1","livemode":false,"metadata":{},"object":"charge","paid":true,"payment_intent":"pi_\#(id)","payment_method":"pm_1","refunded":false,"status":"succeeded"}"#
        let intent = #"{"amount":8000,"capture_method":"manual","charges":{"data":[\#(charge)],"has_more":false,"object":"list","total_count":1},"client_secret":"pi_\#(id)_secret","created":1796210177,"currency":"eur","customer":"cus_1","id":"pi_\#(id)","last_payment_error":null,"latest_charge":\#(charge),"livemode":false,"metadata":{"request_id":"\#(id)","client_id":"u1"},"object":"payment_intent","payment_method":"pm_1","status":"succeeded"}"#
        return Array(#"{"api_version":"2024-06-20","created":1796210177,"data":{"object":\#(intent)},"id":"evt_\#(id)","livemode":false,"object":"event","pending_webhooks":1,"type":"payment_intent.succeeded"}"#.utf8)
    }

    public func run() async throws -> [String] {
        var lines: [String] = []
        let service = PaymentService(mongo: platform.mongo, provider: StripeClient(configuration: StripeConfiguration()), webhookSecrets: [Self.secret])
        try await service.prepare()
        let router = Router(context: AppRequestContext.self)
        router.add(middleware: ProblemMiddleware())
        PaymentRoutes.register(on: router, service: service)
        // The bare route: the same body collected and answered, nothing else (the HTTP ceiling).
        router.post("/bare") { request, _ -> Response in
            _ = try await request.body.collect(upTo: 1 << 20)
            return Response(status: .ok, body: .init(byteBuffer: ByteBuffer(string: #"{"received":true,"duplicate":false}"#)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: "bench"))
        let group = ServiceGroup(configuration: .init(services: [.init(service: app)], gracefulShutdownSignals: [], logger: Logger(label: "bench")))
        let running = Task { try await group.run() }
        defer { running.cancel() }
        try await Task.sleep(for: .milliseconds(500))
        let http = HTTPClient.shared

        // Signature verification alone (CPU).
        let sample = Self.body("sample")
        let header = StripeSignature.header(secret: Self.secret, body: sample)
        let verifier = StripeSignature(secrets: [Self.secret])
        let verifications = 100_000
        var start = ContinuousClock.now
        for _ in 0..<verifications { try verifier.verify(header: header, body: sample) }
        let perSecond = Double(verifications) / (ContinuousClock.now - start).seconds
        lines.append(String(format: "signature verification alone: %.0f/s (%.2f µs each, %d-byte body)", perSecond, 1e6 / perSecond, sample.count))

        // Sequential round trips to the bare route.
        func post(_ path: String, _ body: [UInt8], signature: String?) async throws {
            var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            if let signature { request.headers.add(name: "Stripe-Signature", value: signature) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await http.execute(request, timeout: .seconds(10))
            _ = try await response.body.collect(upTo: 1 << 16)
            guard response.status == .ok else { throw BenchError("\(path) answered \(response.status.code)") }
        }
        for _ in 0..<200 { try await post("/bare", sample, signature: nil) }  // warm-up
        lines.append("round     raw insert/s   adapter insert/s  ratio   intake (service)/s  ratio   bare route/s  intake (HTTP)/s  ratio to bare+raw")
        var serviceRatios: [Double] = [], httpRatios: [Double] = []
        for round in 1...rounds {
            let tag = UUID().uuidString.prefix(8).lowercased()
            // Every loop writes to a collection with the webhook inbox's index, as the intake does.
            for name in ["bench_raw_events_\(tag)", "bench_adapter_events_\(tag)"] {
                try await platform.mongo.collection(name, as: StoredEvent.self).createIndexes(Self.inboxIndexes)
            }
            let raw = try rawInsertLoop(collection: "bench_raw_events_\(tag)", tag: tag)
            // The same documents through our MongoDB adapter alone (Codable, the connection pool, the thread hop).
            let plain = platform.mongo.collection("bench_adapter_events_\(tag)", as: StoredEvent.self)
            start = .now
            for index in 0..<events {
                let id = "a\(tag)-\(index)"
                try await plain.insert(StoredEvent(_id: "evt_\(id)", type: "payment_intent.succeeded", body: String(decoding: Self.body(id), as: UTF8.self),
                                                   receivedAt: Date(), processedAt: nil, attempts: 0))
            }
            let adapter = Double(events) / (ContinuousClock.now - start).seconds
            start = .now
            for index in 0..<events {
                let body = Self.body("s\(tag)-\(index)")
                guard try await service.receiveWebhook(body: body, signature: StripeSignature.header(secret: Self.secret, body: body)) == .stored else {
                    throw BenchError("not stored")
                }
            }
            let throughService = Double(events) / (ContinuousClock.now - start).seconds
            start = .now
            for _ in 0..<events { try await post("/bare", sample, signature: nil) }
            let bare = Double(events) / (ContinuousClock.now - start).seconds
            start = .now
            for index in 0..<events {
                let body = Self.body("h\(tag)-\(index)")
                try await post("/v1/payments/webhooks/stripe", body, signature: StripeSignature.header(secret: Self.secret, body: body))
            }
            let throughHTTP = Double(events) / (ContinuousClock.now - start).seconds
            // The HTTP ceiling: a bare round trip plus a raw insert, one after the other.
            let ceiling = 1 / (1 / bare + 1 / raw)
            serviceRatios.append(throughService / raw)
            httpRatios.append(throughHTTP / ceiling)
            lines.append(String(format: "%5d %16.0f %18.0f  %.2fx %20.0f  %.2fx %13.0f %16.0f  %.2fx", round, raw, adapter, adapter / raw,
                                throughService, throughService / raw, bare, throughHTTP, throughHTTP / ceiling))
        }
        func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
        lines.append(String(format: "webhook intake: median %.2fx of a raw libmongoc insert through the service, %.2fx of bare route + raw insert through HTTP (goal ≥ 0.8x)",
                            median(serviceRatios), median(httpRatios)))
        await group.triggerGracefulShutdown()
        _ = await running.result
        return lines
    }

    /// The webhook inbox's index (`WebhookEventRepository.indexes`).
    static let inboxIndexes = [MongoIndex(name: "unprocessed", keys: ["processedAt": 1, "leaseUntil": 1, "receivedAt": 1])]

    struct StoredEvent: Codable, Sendable {
        var _id: String
        var type: String
        var body: String
        var receivedAt: Date
        var processedAt: Date?
        var attempts: Int
    }

    /// The same documents (id, type, raw body, times) inserted with libmongoc directly.
    private func rawInsertLoop(collection name: String, tag: String) throws -> Double {
        mongoc_init()
        var error = bson_error_t()
        guard let uri = mongoc_uri_new_with_error(platform.configuration.mongoURI, &error) else { throw BenchError("raw uri") }
        defer { mongoc_uri_destroy(uri) }
        let client = mongoc_client_new_from_uri(uri)!
        defer { mongoc_client_destroy(client) }
        mongoc_client_set_error_api(client, 2)
        let collection = mongoc_client_get_collection(client, platform.configuration.mongoDatabase, name)!
        defer { mongoc_collection_destroy(collection) }
        let start = ContinuousClock.now
        for index in 0..<events {
            let id = "r\(tag)-\(index)"
            let body = String(decoding: Self.body(id), as: UTF8.self)
            let document = bson_new()!
            bson_append_utf8(document, "_id", 3, "evt_\(id)", -1)
            bson_append_utf8(document, "type", 4, "payment_intent.succeeded", -1)
            bson_append_utf8(document, "body", 4, body, -1)
            bson_append_date_time(document, "receivedAt", 10, Int64(Date().timeIntervalSince1970 * 1000))
            bson_append_null(document, "processedAt", 11)
            bson_append_int64(document, "attempts", 8, 0)
            let ok = mongoc_collection_insert_one(collection, document, nil, nil, &error)
            bson_destroy(document)
            if !ok { throw BenchError("raw insert failed") }
        }
        return Double(events) / (ContinuousClock.now - start).seconds
    }
}
