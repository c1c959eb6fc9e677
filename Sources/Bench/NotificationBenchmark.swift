import Foundation
import Logging
import MarketplaceAWS
import MarketplaceContracts
import MarketplaceIdentity
import MarketplaceKafka
import MarketplaceMessaging
import MarketplaceMongo
import MarketplaceNotifications
import MarketplacePlatform
import MarketplaceRealtime
import MarketplaceSMTP
import ServiceLifecycle
import Synchronization

/// Notifications through the whole pipeline, in one process with the local servers (aiosmtpd,
/// moto's SNS, Tansu, SecantusDB, Redis): event → planner (inbox, outbox) → relay → the
/// channel's sender → the sink, beside the sink's own accept rate in the same run (our SMTP
/// client and SNS client in a plain loop, one at a time as a sender sends):
///  - e-mail: N users registered while the workers are stopped; their welcome e-mails counted in
///    the Maildir as they arrive (rate from the first to the last);
///  - push: N offers to users with a device each; counted as the delivery log marks them sent;
///  - in-app: offers at a fixed rate; event time → the `notification.created` record on the
///    fan-out topic (what every gateway node consumes), p50/p99.
public struct NotificationBenchmark: Sendable {
    public var platform: Platform
    public var count: Int
    public var rate: Int
    public var seconds: Int
    public var maildir: String
    public var smtpPort: Int

    public init(platform: Platform, count: Int, rate: Int, seconds: Int, maildir: String, smtpPort: Int) {
        self.platform = platform
        self.count = count
        self.rate = rate
        self.seconds = seconds
        self.maildir = maildir
        self.smtpPort = smtpPort
    }

    struct NoJobs: JobAccessDirectory { func access(toJob id: String) async throws -> JobAccess? { nil } }

    func mails() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: maildir + "/new").count) ?? 0 }

    public func run() async throws -> [String] {
        var lines: [String] = []
        let ports = Ports()
        let identity = try await IdentityModule(context: ModuleContext(platform: platform, module: IdentityModule.name, ports: ports))
        ports.provide((any JobAccessDirectory).self, NoJobs(), by: "bench")
        let realtime = try RealtimeModule(context: ModuleContext(platform: platform, module: RealtimeModule.name, ports: ports),
                                          configuration: RealtimeConfiguration(port: 0, nodeID: "bench"))
        let notifications = try await NotificationsModule(context: ModuleContext(platform: platform, module: NotificationsModule.name, ports: ports))
        let composition = Composition(platform: platform, built: [identity, realtime, notifications], ports: ports)
        try await composition.prepare()
        for topic in platform.topics.names([.users, .auth, .offers, .jobs, .chatMessages, .notifications, .realtimePublications]) {
            try await platform.admin.ensureTopic(topic, partitions: 6)
        }
        let relay = ServiceGroup(configuration: .init(services: try composition.workerServices([Composition.outboxRelay]).map { .init(service: $0) },
                                                       gracefulShutdownSignals: [], logger: Logger(label: "bench")))
        let relaying = Task { try await relay.run() }
        defer { relaying.cancel() }

        // Raw sink rates first (same run, same servers).
        let smtp = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: smtpPort, security: .none))
        let before = mails()
        var start = ContinuousClock.now
        for index in 0..<count {
            _ = try await smtp.send(EmailMessage(from: "bench@marketplace.local", to: "raw-\(index)@example.com", subject: "raw", text: "raw text",
                                                 html: "<p>raw</p>", messageID: "raw-\(UUID().uuidString)@bench"))
        }
        let rawSMTP = Double(count) / (ContinuousClock.now - start).seconds
        guard mails() - before == count else { throw BenchError("the raw SMTP loop delivered \(mails() - before) of \(count)") }

        let sns = SNSClient(configuration: SNSConfiguration(aws: try ModuleContext(platform: platform, module: "bench", ports: ports).aws))
        let registry = try await SNSEndpointRegistry.creatingApplications(sns: sns, prefix: "bench")
        let rawEndpoint = try await registry.register(platform: .android, token: "bench-raw-\(UUID().uuidString)", userID: "bench")
        start = ContinuousClock.now
        for index in 0..<count {
            _ = try await sns.publish(toEndpoint: rawEndpoint, json: #"{"default":"raw \#(index)","GCM":"{\"notification\":{\"title\":\"raw\"}}"}"#)
        }
        let rawSNS = Double(count) / (ContinuousClock.now - start).seconds

        // Users (their welcome e-mails wait in Kafka: the planner does not run yet), each with a device.
        var users: [IdentityService.TokenPair] = []
        try await withThrowingTaskGroup(of: IdentityService.TokenPair.self) { group in
            for index in 0..<count {
                group.addTask {
                    try await identity.service.register(email: "bench-\(index)-\(UUID().uuidString.prefix(8).lowercased())@example.com",
                                                        password: "correct horse battery", name: "Bench \(index)", role: "provider", traceparent: nil)
                }
            }
            for try await user in group { users.append(user) }
        }
        for user in users {
            let caller = Caller(userID: user.user.id, role: .provider, sessionID: "bench")
            _ = try await notifications.service.registerDevice(caller, .init(platform: "android", token: "bench-\(UUID().uuidString)", appVersion: "bench"))
        }
        try? await Task.sleep(for: .seconds(2)) // the relay has published the registrations

        let mailBaseline = mails()
        let workers = ServiceGroup(configuration: .init(
            services: try composition.workerServices(["notifications", "notifications-email", "notifications-push"]).map { .init(service: $0) },
            gracefulShutdownSignals: [], logger: Logger(label: "bench")))
        let working = Task { try await workers.run() }
        defer { working.cancel() }
        var first: ContinuousClock.Instant?
        let deadline = ContinuousClock.now + .seconds(600)
        while mails() - mailBaseline < count, ContinuousClock.now < deadline {
            if first == nil, mails() > mailBaseline { first = ContinuousClock.now }
            try await Task.sleep(for: .milliseconds(10))
        }
        let emailDone = ContinuousClock.now
        let delivered = mails() - mailBaseline
        let pipelineSMTP = first.map { Double(max(1, delivered - 1)) / (emailDone - $0).seconds } ?? 0
        lines.append(String(format: "e-mail: %d welcome e-mails event → planner → relay → sender → aiosmtpd: %.0f/s (first to last); raw SMTP client loop into the same aiosmtpd: %.0f/s; ratio %.2fx",
                            delivered, pipelineSMTP, rawSMTP, pipelineSMTP / rawSMTP))

        // Push: one offer per user; counted in the delivery log as SNS accepts them.
        let deliveries = platform.mongo.collection(DeliveryRepository.collectionName, as: DeliveryRecord.self)
        let pushed = { try await deliveries.count(["channel": "push", "status": "sent"]) }
        let publisher = KafkaEventPublisher(producer: platform.producer, topics: platform.topics)
        let pushBaseline = try await pushed()
        for user in users {
            let offer = DispatchEvents.OfferEvent(offerId: UUID().uuidString, requestId: UUID().uuidString, providerId: user.user.id, wave: 1)
            try await publisher.publish(try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.offerSent, aggregateID: offer.requestId, payload: offer),
                                        to: .offers)
        }
        first = nil
        while try await pushed() - pushBaseline < count, ContinuousClock.now < deadline {
            if first == nil, try await pushed() > pushBaseline { first = ContinuousClock.now }
            try await Task.sleep(for: .milliseconds(20))
        }
        let pushDone = ContinuousClock.now
        let pushCount = try await pushed() - pushBaseline
        let pipelineSNS = first.map { Double(max(1, pushCount - 1)) / (pushDone - $0).seconds } ?? 0
        lines.append(String(format: "push: %d offers event → planner → relay → sender → moto SNS: %.0f/s (first to last); raw SNS Publish loop into the same moto: %.0f/s; ratio %.2fx",
                            pushCount, pipelineSNS, rawSNS, pipelineSNS / rawSNS))

        // In-app: offers at a fixed rate; event → notification.created on the fan-out topic.
        let fanOut = try KafkaConsumer(configuration: KafkaConsumerConfiguration(
            client: platform.configuration.kafkaClient, groupID: "bench-inapp-\(UUID().uuidString.prefix(8))", topics: [platform.topics.name(.realtimePublications)],
            autoOffsetReset: .latest, fetchWaitMaxMillis: 10, gatherMillis: 0))
        _ = await waitUntil({ !fanOut.assignment.isEmpty }, timeout: .seconds(30))
        try? await Task.sleep(for: .seconds(2))
        let phaseStart = Date()
        let latencies = Mutex<[Int64]>([])
        let reader = Task {
            for await record in fanOut.records {
                let now = Date()
                guard let text = String(bytes: record.value, encoding: .utf8), text.contains(NotificationEvents.created.rawValue),
                      let range = text.range(of: #""createdAt":""#) else { continue }
                let stamp = String(text[range.upperBound...].prefix { $0 != "\"" })
                guard let created = try? Date(stamp, strategy: .iso8601.year().month().day().time(includingFractionalSeconds: true)), created >= phaseStart else { continue }
                latencies.withLock { $0.append(Int64(now.timeIntervalSince(created) * 1_000_000)) }
            }
        }
        let interval = Duration.nanoseconds(1_000_000_000 / max(1, rate))
        var next = ContinuousClock.now
        for index in 0..<(rate * seconds) {
            next += interval
            try? await Task.sleep(until: next)
            let offer = DispatchEvents.OfferEvent(offerId: UUID().uuidString, requestId: UUID().uuidString, providerId: users[index % users.count].user.id, wave: 1)
            try await publisher.publish(try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.offerSent, aggregateID: offer.requestId, payload: offer),
                                        to: .offers)
        }
        try? await Task.sleep(for: .seconds(5))
        fanOut.stopDelivery()
        await fanOut.close()
        reader.cancel()
        let samples = latencies.withLock { $0 }.sorted()
        lines.append(String(format: "in-app: %d offers at %d/s → notification.created on the fan-out topic: p50 %.1f ms, p99 %.1f ms (%d samples)",
                            rate * seconds, rate, RealtimeBenchmark.percentile(samples, 0.5), RealtimeBenchmark.percentile(samples, 0.99), samples.count))
        await workers.triggerGracefulShutdown()
        await relay.triggerGracefulShutdown()
        return lines
    }
}
