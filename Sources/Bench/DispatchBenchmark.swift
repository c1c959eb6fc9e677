import Foundation
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo
import MarketplacePlatform
import MarketplaceRedis

/// Dispatch decision latency: a `request.created` event handed to the dispatch use case → its
/// first offers and their `offer.sent` events committed (outbox), with N online providers of the
/// category in Redis. Alongside, in the same run: GEOSEARCH through our Redis client, and the key
/// is left for `redis-benchmark` (the raw ceiling; scripts/bench-dispatch.sh).
public struct DispatchBenchmark: Sendable {
    public var platform: Platform
    public var requests: Int

    public init(platform: Platform, requests: Int) {
        self.platform = platform
        self.requests = requests
    }

    static let center = Coordinates(lat: 38.72, lng: -9.14)

    /// A point within ~`km` of the center.
    static func point(within km: Double) -> Coordinates {
        let distance = km * Double.random(in: 0...1).squareRoot() / 111.0
        let angle = Double.random(in: 0..<(2 * .pi))
        return Coordinates(lat: center.lat + distance * sin(angle), lng: center.lng + distance * cos(angle) / cos(center.lat * .pi / 180))
    }

    public struct Result: Sendable {
        public var providers: Int
        public var geoKey: String
        public var populateSeconds: Double
        public var geosearchPerSecond: Double
        public var p50: Double
        public var p99: Double
        public var mean: Double
    }

    public func run(providers count: Int) async throws -> Result {
        let redis = platform.redis
        let dispatch = DispatchService(mongo: platform.mongo, publisher: KafkaEventPublisher(producer: platform.producer, topics: platform.topics),
                                       directory: MongoProviderDirectory(mongo: platform.mongo))
        try await dispatch.prepare()
        let admin = Caller(userID: "bench-admin", role: .admin, sessionID: "bench")
        let category = "bench-\(UUID().uuidString.prefix(8).lowercased())"
        _ = try await dispatch.createCategory(admin, .init(slug: category, name: "Bench \(count)"))

        // N online providers within 30 km, written the way the presence index keeps them.
        let populateStart = ContinuousClock.now
        let now = Date().timeIntervalSince1970
        var commands: [[any RedisArgument]] = []
        for index in 0..<count {
            let id = "bench-\(category)-\(index)"
            let point = Self.point(within: 30)
            commands.append(["HSET", "provider-state:\(id)", "online", "1", "categories", category, "at", now])
            commands.append(["GEOADD", "providers-geo:\(category)", point.lng, point.lat, id])
            commands.append(["ZADD", "providers-last-seen", now, id])
            if commands.count >= 3000 { _ = try await redis.pipeline(commands); commands.removeAll(keepingCapacity: true) }
        }
        if !commands.isEmpty { _ = try await redis.pipeline(commands) }
        let populated = ContinuousClock.now - populateStart

        // GEOSEARCH through our client, one at a time (what a dispatch does first).
        let index = ProviderPresenceIndex(redis: redis)
        let searches = 500
        let searchStart = ContinuousClock.now
        for _ in 0..<searches {
            _ = try await redis.geosearch("providers-geo:\(category)", longitude: Self.center.lng, latitude: Self.center.lat, radiusKm: 10, limit: 24)
        }
        let searchSeconds = (ContinuousClock.now - searchStart).seconds

        // Requests from a client; each request.created event is handed to the use case and timed.
        let client = Caller(userID: "bench-client-\(category)", role: .client, sessionID: "bench")
        var latencies: [Double] = []
        for round in 0..<(requests + 10) {
            let request = try await dispatch.createRequest(client, ServiceRequestInput(
                categoryId: category, location: Self.point(within: 5), address: "Rua 1", description: "bench", scheduledFor: nil, budget: nil),
                traceparent: nil)
            let event = try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.requestCreated, aggregateID: request.id,
                                          payload: DispatchEvents.RequestCreated(requestId: request.id, clientId: client.userID, categoryId: category,
                                                                                 lat: request.location.lat, lng: request.location.lng))
            let start = ContinuousClock.now
            try await dispatch.dispatch(event, index: index)
            if round >= 10 { latencies.append((ContinuousClock.now - start).seconds * 1000) }  // the first 10 warm up
        }
        latencies.sort()
        // Leave the shared index as it was (the GEO key stays for redis-benchmark; the script drops it).
        for start in stride(from: 0, to: count, by: 2000) {
            let ids = (start..<min(count, start + 2000)).map { "bench-\(category)-\($0)" }
            _ = try await redis.pipeline([["ZREM", "providers-last-seen"] + ids] + [["DEL"] + ids.map { "provider-state:\($0)" }])
        }
        return Result(providers: count, geoKey: "providers-geo:\(category)", populateSeconds: populated.seconds,
                      geosearchPerSecond: Double(searches) / searchSeconds,
                      p50: latencies[latencies.count / 2], p99: latencies[min(latencies.count - 1, Int(Double(latencies.count) * 0.99))],
                      mean: latencies.reduce(0, +) / Double(latencies.count))
    }
}
