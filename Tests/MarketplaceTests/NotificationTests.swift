import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import MarketplaceAWS
import MarketplaceContracts
import MarketplaceDispatch
import MarketplaceIdentity
import MarketplaceMessaging
import MarketplaceMongo
import MarketplaceNotifications
import MarketplacePlatform
import MarketplaceRealtime
import MarketplaceSMTP
import ServiceLifecycle
import Testing

/// Notifications against the real servers: aiosmtpd (a private sink per test), moto's SNS,
/// Tansu, SecantusDB, Redis, and the realtime gateway for presence.
@Suite("Notifications", .timeLimit(.minutes(3)))
struct NotificationTests {
    typealias T = IdentityTests
    typealias D = DispatchTests

    /// How the harness builds the module: which SMTP sink, how fast retries and fallbacks go.
    struct Options: Sendable {
        var smtpPort: Int = Int(TestServers.environment["SMTP_PORT"] ?? "") ?? 2525
        var settings = NotificationService.Settings(smsFallbackDelay: 60, maxAttempts: 4, initialBackoff: .milliseconds(100), maxBackoff: .seconds(1))
        var smsPerUserDaily = 5
    }

    static var sns: SNSClient {
        SNSClient(configuration: SNSConfiguration(endpoint: TestServers.awsEndpoint, credentials: AWSCredentials(accessKeyID: "testing", secretAccessKey: "testing")))
    }

    static func module(platform: Platform, ports: Ports, options: Options) async throws -> NotificationsModule {
        let sns = Self.sns
        let devices = DeviceRepository(mongo: platform.mongo)
        let registry = try await SNSEndpointRegistry.creatingApplications(sns: sns, prefix: TestServers.unique("app"))
        let smtp = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: options.smtpPort, security: .none, timeout: .seconds(5)))
        let service = NotificationService(
            mongo: platform.mongo, contacts: try ports.require((any ContactDirectory).self, by: "test"),
            presence: try ports.require((any PresenceDirectory).self, by: "test"), fanOut: BridgeFanOut(),
            renderer: try await TemplateRenderer.bundled(),
            senders: [EmailSender(client: smtp, from: "no-reply@marketplace.test"), PushSender(sns: sns, devices: devices),
                      SMSSender(sns: sns, redis: platform.redis, perUserDaily: options.smsPerUserDaily, platformDaily: 1_000_000)],
            pushRegistry: registry, settings: options.settings)
        return NotificationsModule(service: service)
    }

    /// Events a module wrote to the outbox (entries and their companions), oldest first, as Kafka would deliver them.
    static func outboxEvents(_ h: D.Harness, type: EventType, aggregate: String? = nil) async throws -> [EventEnvelope] {
        let entries = try await h.platform.mongo.collection(Outbox.collection, as: OutboxEntry.self)
            .find(["$or": [["type": .string(type.rawValue)], ["companions.type": .string(type.rawValue)]]], options: FindOptions(sort: ["_id": 1]))
        var events: [EventEnvelope] = []
        for entry in entries {
            let all = [(entry.eventId, entry.source, entry.type, entry.time, entry.aggregateId, entry.data, entry.traceparent)]
                + (entry.companions ?? []).map { ($0.eventId, $0.source, $0.type, $0.time, $0.aggregateId, $0.data, $0.traceparent) }
            for (id, source, kind, time, aggregateID, data, traceparent) in all where kind == type.rawValue && (aggregate == nil || aggregateID == aggregate) {
                events.append(EventEnvelope(id: id, source: source, type: EventType(rawValue: kind), time: time, aggregateID: aggregateID,
                                            data: Array(data), traceparent: traceparent))
            }
        }
        return events
    }

    /// Send requests for `userID` on `channel`, as the outbox holds them.
    static func requests(_ h: D.Harness, userID: String, channel: NotificationChannel) async throws -> [(EventEnvelope, SendRequest)] {
        try await outboxEvents(h, type: NotificationEvents.requested, aggregate: userID).compactMap { event in
            let request = try event.decode(SendRequest.self)
            return request.channel == channel ? (event, request) : nil
        }
    }

    static func deliveries(_ client: some TestClientProtocol, admin: String, userID: String) async throws -> [DeliveryView] {
        try await client.execute(uri: "/v1/admin/notifications?userId=\(userID)", method: .get, headers: T.bearer(admin)) { response throws in
            #expect(response.status == .ok)
            return try JSONDecoder.iso.decode([DeliveryView].self, from: response.body)
        }
    }

    static func feed(_ client: some TestClientProtocol, token: String, query: String = "") async throws -> NotificationPage {
        try await client.execute(uri: "/v1/notifications\(query)", method: .get, headers: T.bearer(token)) { response throws in
            #expect(response.status == .ok)
            return try JSONDecoder.iso.decode(NotificationPage.self, from: response.body)
        }
    }

    static func registerDevice(_ client: some TestClientProtocol, token: String, pushToken: String, platform: String = "android") async throws -> DeviceView {
        try await client.execute(uri: "/v1/devices", method: .post, headers: T.bearer(token),
                                 body: T.json(["platform": platform, "token": pushToken, "appVersion": "1.0.0"])) { response throws in
            #expect(response.status == .created || response.status == .ok)
            return try JSONDecoder.iso.decode(DeviceView.self, from: response.body)
        }
    }

    static func putPreferences(_ client: some TestClientProtocol, token: String, _ body: [String: Any]) async throws -> HTTPResponse.Status {
        try await client.execute(uri: "/v1/notifications/preferences", method: .put, headers: T.bearer(token), body: T.json(body)) { $0.status }
    }

    /// What moto's SNS holds: messages per endpoint token, and SMS.
    struct MotoSNS {
        var endpointMessages: [String: [String]]
        var endpointEnabled: [String: Bool]
        var sms: [(phone: String, message: String)]
    }

    static func moto() async throws -> MotoSNS {
        // moto serialises its whole state while other tests change it: a failed dump is asked again.
        var json: [String: Any] = [:]
        for attempt in 1...5 {
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: TestServers.awsEndpoint.absoluteString + "/moto-api/data.json"),
                                                               timeout: .seconds(20))
            let body = try await response.body.collect(upTo: 256 << 20)
            if response.status == .ok, let parsed = try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] {
                json = parsed
                break
            }
            if attempt == 5 { throw AWSError(status: Int(response.status.code), code: "MotoDump", message: String(buffer: body).prefix(200).description) }
            try await Task.sleep(for: .milliseconds(200))
        }
        let sns = json["sns"] as? [String: Any] ?? [:]
        var messages: [String: [String]] = [:], enabled: [String: Bool] = [:]
        for endpoint in sns["PlatformEndpoint"] as? [[String: Any]] ?? [] {
            guard let token = endpoint["token"] as? String else { continue }
            messages[token, default: []] += (endpoint["messages"] as? [String: String] ?? [:]).values
            enabled[token] = endpoint["enabled"] as? Bool
        }
        let sms = (sns["SMS"] as? [[String: Any]] ?? []).map { ($0["phone_number"] as? String ?? "", $0["message"] as? String ?? "") }
        return MotoSNS(endpointMessages: messages, endpointEnabled: enabled, sms: sms)
    }

    static func ensureTopics(_ h: D.Harness) async throws {
        for topic in h.topics.names([.auth, .users, .offers, .jobs, .chatMessages, .notifications, .realtimePublications, .serviceRequests]) {
            try await h.platform.admin.ensureTopic(topic, partitions: 2)
        }
    }

    static func run(_ services: [any Service]) -> (ServiceGroup, Task<Void, any Error>) {
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [], logger: Logger(label: "test")))
        return (group, Task { try await group.run() })
    }

    // MARK: through the whole pipeline

    @Test("password reset: the e-mail (pt-BR by default) arrives in the SMTP sink and its link's token resets the password; the welcome e-mail arrives once")
    func passwordResetEmail() async throws {
        let sink = try await SMTPSink()
        defer { Task { await sink.stop() } }
        let h = try await D.harness(notifications: Options(smtpPort: sink.port))
        try await Self.ensureTopics(h)
        let (group, running) = Self.run([
            OutboxRelay(mongo: h.platform.mongo, producer: h.platform.producer, topics: h.topics, configuration: .init(idleInterval: .milliseconds(20))),
            try h.worker("notifications"), try h.worker("notifications-email"),
        ])
        try await h.app.test(.router) { client in
            let email = T.email()
            let user = try await T.register(client, email: email)
            #expect(try await eventually(timeout: .seconds(45)) { try sink.messages(to: email).count == 1 }, "the welcome e-mail arrived")
            let welcome = try #require(try sink.messages(to: email).first)
            #expect(welcome.subject.hasPrefix("Boas-vindas ao Marketplace"), "\(welcome.subject)")
            #expect(welcome.parts["text/html"]?.contains("<p>") == true)

            try await client.execute(uri: "/v1/auth/password-reset/request", method: .post, headers: [.contentType: "application/json"],
                                     body: T.json(["email": email])) { #expect($0.status == .accepted) }
            #expect(try await eventually(timeout: .seconds(30)) { try sink.messages(to: email).count == 2 }, "the reset e-mail arrived")
            // Maildir names do not sort by arrival: find it by its subject.
            let reset = try #require(try sink.messages(to: email).first { $0.subject != welcome.subject })
            #expect(reset.subject == "Redefina sua senha do Marketplace")
            let link = try #require(reset.text.split(separator: "\n").first { $0.hasPrefix("http") }.map(String.init))
            let token = try #require(URLComponents(string: link)?.queryItems?.first { $0.name == "token" }?.value)
            #expect(reset.parts["text/html"]?.contains("href=\"\(link)\"") == true, "the HTML part links the same URL")

            try await client.execute(uri: "/v1/auth/password-reset/confirm", method: .post, headers: [.contentType: "application/json"],
                                     body: T.json(["token": token, "password": "a brand new password"])) { #expect($0.status == .noContent) }
            try await client.execute(uri: "/v1/auth/login", method: .post, headers: [.contentType: "application/json"],
                                     body: T.json(["email": email, "password": "a brand new password"])) { #expect($0.status == .ok) }
            // The link opens a page that sets the password with the token.
            try await client.execute(uri: "/reset-password?token=\(token)", method: .get) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains("/v1/auth/password-reset/confirm"))
            }
            let admin = try await IdentityAccountTests.admin(T.Harness(platform: h.platform, service: h.identity, app: h.app), client)
            let log = try await Self.deliveries(client, admin: admin, userID: user.user.id)
            #expect(log.filter { $0.channel == "email" }.map(\.status) == ["sent", "sent"], "\(log)")
            // Redelivered requests are not sent again.
            for (event, _) in try await Self.requests(h, userID: user.user.id, channel: .email) {
                try await h.notifications.service.deliver(event, channel: .email)
            }
            #expect(try sink.messages(to: email).count == 2)
        }
        await group.triggerGracefulShutdown()
        try await running.value
        await D.close(h)
    }

    @Test("an offer to a provider who is not connected becomes an SNS push to each device; to a connected one an in-app notification only, live on user:<id>")
    func offerPushOrInApp() async throws {
        let r = try await RealtimeHarness.start(extraServices: { h in [
            OutboxRelay(mongo: h.platform.mongo, producer: h.platform.producer, topics: h.topics, configuration: .init(idleInterval: .milliseconds(20))),
            try! h.worker("notifications"), try! h.worker("notifications-push"),
        ] })
        let h = r.dispatch
        try await Self.ensureTopics(h)
        try await h.app.test(.router) { api in
            let offline = try await T.register(api, email: T.email(), role: "provider")
            let online = try await T.register(api, email: T.email(), role: "provider")
            let offlineToken = TestServers.unique("fcm-offline"), onlineToken = TestServers.unique("fcm-online")
            _ = try await Self.registerDevice(api, token: offline.accessToken, pushToken: offlineToken)
            _ = try await Self.registerDevice(api, token: online.accessToken, pushToken: onlineToken)
            let socket = try await r.connected(online.accessToken)
            _ = try await socket.command("subscribe", ["channel": RealtimeChannel.user(online.user.id).name])

            let publisher = KafkaEventPublisher(producer: h.platform.producer, topics: h.topics)
            for provider in [offline, online] {
                let offer = DispatchEvents.OfferEvent(offerId: TestServers.unique("offer"), requestId: TestServers.unique("req"), providerId: provider.user.id, wave: 1)
                try await publisher.publish(try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.offerSent, aggregateID: offer.requestId, payload: offer),
                                            to: .offers)
            }
            #expect(try await eventually(timeout: .seconds(45)) { try await Self.moto().endpointMessages[offlineToken]?.count == 1 }, "the offline provider's phone got the push")
            let push = try #require(try await Self.moto().endpointMessages[offlineToken]?.first)
            let envelope = try #require(try JSONSerialization.jsonObject(with: Data(push.utf8)) as? [String: String])
            let fcm = try #require(try JSONSerialization.jsonObject(with: Data((envelope["GCM"] ?? "").utf8)) as? [String: Any])
            #expect((fcm["notification"] as? [String: String])?["title"] == "Nova oferta de serviço")
            #expect(fcm["time_to_live"] as? Int == 60)

            let live = try await socket.waitFor(timeout: .seconds(30)) { message in
                message.object("push")?.object("pub")?.object("data")?["type"] as? String == NotificationEvents.created.rawValue
            }
            #expect(live.object("push")?.object("pub")?.object("data")?.object("data")?["kind"] as? String == "offer-received")
            let page = try await Self.feed(api, token: online.accessToken)
            #expect(page.notifications.map(\.kind) == ["offer-received"] && page.unreadCount == 1)
            try await Task.sleep(for: .seconds(1))
            let onlineMessages = try await Self.moto().endpointMessages[onlineToken] ?? []
            #expect(onlineMessages.isEmpty, "no push to the connected provider")
            #expect(try await Self.requests(h, userID: online.user.id, channel: .push).isEmpty)
        }
        await r.group.triggerGracefulShutdown()
        try await r.running.value
        await D.close(h)
    }

    // MARK: decisions (the planner and senders called as the workers call them)

    /// A job between a fresh client (with a phone) and provider, without going through Dispatch.
    static func jobEvent(_ client: T.Tokens, _ provider: T.Tokens, job: String, from: JobStatus, to: JobStatus, by: JobActor, reason: String? = nil,
                         at: Date = Date()) throws -> EventEnvelope {
        try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.jobStatusChanged, aggregateID: job,
                          payload: DispatchEvents.JobStatusChanged(jobId: job, requestId: "r-\(job)", clientId: client.user.id, providerId: provider.user.id,
                                                                   from: from, to: to, by: by, reason: reason, at: at), time: at)
    }

    @Test("job updates go to the other party, collapse per job, and a push overtaken by a newer update of the job is not sent; opt-outs are honoured")
    func jobUpdatesCollapseAndOptOut() async throws {
        let h = try await D.harness()
        let service = h.notifications.service
        try await h.app.test(.router) { api in
            let customer = try await T.register(api, email: T.email())
            let provider = try await T.register(api, email: T.email(), role: "provider")
            let pushToken = TestServers.unique("fcm")
            _ = try await Self.registerDevice(api, token: customer.accessToken, pushToken: pushToken, platform: "ios")
            let job = TestServers.unique("job")
            let enRoute = try Self.jobEvent(customer, provider, job: job, from: .assigned, to: .enRoute, by: .provider, at: Date())
            let arrived = try Self.jobEvent(customer, provider, job: job, from: .enRoute, to: .arrived, by: .provider, at: Date().addingTimeInterval(1))
            try await service.plan(enRoute, inbox: service.plannerInbox)
            try await service.plan(enRoute, inbox: service.plannerInbox) // a redelivery: nothing new
            try await service.plan(arrived, inbox: service.plannerInbox)
            let pushes = try await Self.requests(h, userID: customer.user.id, channel: .push)
            #expect(pushes.map(\.1.kind) == [.jobEnRoute, .jobArrived], "one push request per update, for the client only")
            #expect(Set(pushes.compactMap(\.1.push?.collapseKey)) == ["job-\(job)"])
            #expect(try await Self.requests(h, userID: provider.user.id, channel: .push).isEmpty, "the provider made the change")
            // The sender reaches "en route" after "arrived" exists: it is not sent; "arrived" is.
            try await service.deliver(pushes[0].0, channel: .push)
            try await service.deliver(pushes[1].0, channel: .push)
            let sent = try await Self.moto().endpointMessages[pushToken] ?? []
            #expect(sent.count == 1 && sent[0].contains("Prestador chegou"), "\(sent)")
            #expect(sent.first?.contains("AWS") == false)
            let admin = try await IdentityAccountTests.admin(T.Harness(platform: h.platform, service: h.identity, app: h.app), api)
            let log = try await Self.deliveries(api, admin: admin, userID: customer.user.id)
            #expect(log.first { $0.kind == "job-en-route" && $0.channel == "push" }?.status == "skipped")
            #expect(log.first { $0.kind == "job-arrived" && $0.channel == "push" }?.status == "sent", "\(log)")

            // Opting out of job pushes: the next update is in the app only.
            #expect(try await Self.putPreferences(api, token: customer.accessToken, ["channels": ["jobs": ["push": false]], "locale": "en"]) == .ok)
            let started = try Self.jobEvent(customer, provider, job: job, from: .arrived, to: .inProgress, by: .provider, at: Date().addingTimeInterval(2))
            try await service.plan(started, inbox: service.plannerInbox)
            #expect(try await Self.requests(h, userID: customer.user.id, channel: .push).count == 2)
            let page = try await Self.feed(api, token: customer.accessToken)
            #expect(page.notifications.first?.title == "Job started", "English now: \(page.notifications.map(\.title))")
            #expect(page.notifications.count == 3 && page.unreadCount == 3)
        }
        await D.close(h)
    }

    @Test("a chat message reaches the member who did not write it by push while they are not connected, collapsed per conversation; none for the writer, none in the feed")
    func chatMessageToOfflineMember() async throws {
        let h = try await D.harness()
        let service = h.notifications.service
        try await h.app.test(.router) { api in
            let customer = try await T.register(api, email: T.email())
            let provider = try await T.register(api, email: T.email(), role: "provider")
            _ = try await Self.registerDevice(api, token: customer.accessToken, pushToken: TestServers.unique("fcm"))
            _ = try await Self.registerDevice(api, token: provider.accessToken, pushToken: TestServers.unique("fcm"))
            let job = TestServers.unique("job")
            let message = ChatEvents.Message(id: TestServers.unique("m"), seq: 3, senderId: provider.user.id, kind: "user", text: "Chego em 5 minutos",
                                             attachments: [], createdAt: Date())
            let sent = ChatEvents.MessageSent(jobId: job, message: message,
                                              unread: [.init(userId: customer.user.id, unreadCount: 1), .init(userId: provider.user.id, unreadCount: 0)])
            try await service.plan(try EventEnvelope(source: "/services/chat", type: ChatEvents.messageSent, aggregateID: job, payload: sent), inbox: service.plannerInbox)
            let pushes = try await Self.requests(h, userID: customer.user.id, channel: .push)
            #expect(pushes.count == 1 && pushes.first?.1.push?.collapseKey == "chat-\(job)" && pushes.first?.1.push?.body == "Chego em 5 minutos")
            #expect(pushes.first?.1.push?.title == provider.user.name, "the title names the writer")
            #expect(try await Self.requests(h, userID: provider.user.id, channel: .push).isEmpty)
            #expect(try await Self.feed(api, token: customer.accessToken).notifications.isEmpty, "chat keeps its own unread counts")
        }
        await D.close(h)
    }

    @Test("quiet hours hold a marketing message until they end but not a critical update; the SMS fallback goes when the critical update stays unread, not when it was read")
    func quietHoursAndSMSFallback() async throws {
        let h = try await D.harness(notifications: Options(settings: .init(smsFallbackDelay: 1, maxAttempts: 3, initialBackoff: .milliseconds(100))))
        let service = h.notifications.service
        try await h.app.test(.router) { api in
            let customer = try await T.register(api, email: T.email())
            let provider = try await T.register(api, email: T.email(), role: "provider")
            let phone = "+3519\(Int.random(in: 10_000_000...99_999_999))"
            try await api.execute(uri: "/v1/users/me", method: .patch, headers: T.bearer(customer.accessToken), body: T.json(["phone": phone])) {
                #expect($0.status == .ok)
            }
            _ = try await Self.registerDevice(api, token: customer.accessToken, pushToken: TestServers.unique("fcm"))
            // Quiet hours around now (UTC), marketing pushes on.
            var utc = Calendar(identifier: .gregorian)
            utc.timeZone = TimeZone(identifier: "UTC")!
            let hour = utc.component(.hour, from: Date())
            // At least an hour left in the window, whenever the test runs.
            let start = String(format: "%02d:00", (hour + 23) % 24), end = String(format: "%02d:00", (hour + 2) % 24)
            #expect(try await Self.putPreferences(api, token: customer.accessToken, [
                "channels": ["marketing": ["push": true], "jobs": ["sms": true]], "timeZone": "UTC", "quietHours": ["start": start, "end": end],
            ]) == .ok)
            let admin = try await IdentityAccountTests.admin(T.Harness(platform: h.platform, service: h.identity, app: h.app), api)
            let planned: [DeliveryView] = try await api.execute(uri: "/v1/admin/notifications/announcements", method: .post, headers: T.bearer(admin),
                                                                body: T.json(["userId": customer.user.id, "title": "Promo", "body": "20% off"])) { response throws in
                #expect(response.status == .accepted)
                return try JSONDecoder.iso.decode([DeliveryView].self, from: response.body)
            }
            #expect(planned.map(\.status) == ["scheduled"], "\(planned)")
            let due = try #require(planned.first?.dueAt)
            #expect(utc.component(.hour, from: due) == (hour + 2) % 24 && due > Date().addingTimeInterval(3_000))

            let job = TestServers.unique("job")
            let cancelled = try Self.jobEvent(customer, provider, job: job, from: .enRoute, to: .cancelled, by: .provider, reason: "flat tyre")
            try await service.plan(cancelled, inbox: service.plannerInbox)
            let push = try #require(try await Self.requests(h, userID: customer.user.id, channel: .push).first)
            #expect(push.1.kind == .jobCancelled && push.1.push?.body.contains("flat tyre") == true, "critical: sent during quiet hours")

            // Unread after the fallback delay: the SMS goes.
            try await Task.sleep(for: .seconds(1.2))
            #expect(try await service.releaseDueSends() == 1, "the fallback was released; the marketing push still waits")
            let sms = try #require(try await Self.requests(h, userID: customer.user.id, channel: .sms).first)
            try await service.deliver(sms.0, channel: .sms)
            try await service.deliver(sms.0, channel: .sms) // redelivered: sent once
            let texts = try await Self.moto().sms.filter { $0.phone == phone }
            #expect(texts.count == 1 && texts[0].message.contains("flat tyre"), "\(texts)")

            // Read in the app before the delay: no SMS.
            let other = TestServers.unique("job")
            try await service.plan(try Self.jobEvent(customer, provider, job: other, from: .enRoute, to: .arrived, by: .provider), inbox: service.plannerInbox)
            let entry = try #require(try await Self.feed(api, token: customer.accessToken).notifications.first { $0.jobId == other })
            try await api.execute(uri: "/v1/notifications/\(entry.id)/read", method: .post, headers: T.bearer(customer.accessToken)) { #expect($0.status == .ok) }
            try await Task.sleep(for: .seconds(1.2))
            _ = try await service.releaseDueSends()
            #expect(try await Self.requests(h, userID: customer.user.id, channel: .sms).count == 1)
            let log = try await Self.deliveries(api, admin: admin, userID: customer.user.id)
            #expect(log.first { $0.jobId == other && $0.channel == "sms" }?.status == "cancelled")
            #expect(log.first { $0.kind == "announcement" }?.status == "scheduled")

            // A job that moves on cancels what waits for it.
            let third = TestServers.unique("job")
            try await service.plan(try Self.jobEvent(customer, provider, job: third, from: .enRoute, to: .arrived, by: .provider), inbox: service.plannerInbox)
            try await service.plan(try Self.jobEvent(customer, provider, job: third, from: .arrived, to: .inProgress, by: .provider, at: Date().addingTimeInterval(1)),
                                   inbox: service.plannerInbox)
            let afterwards = try await Self.deliveries(api, admin: admin, userID: customer.user.id)
            #expect(afterwards.first { $0.jobId == third && $0.channel == "sms" }?.status == "cancelled")
        }
        await D.close(h)
    }

    @Test("the SMTP server stopped mid-send: retried with backoff and delivered once when it is back, no duplicate on redelivery; when it stays away the send is given up and dead-lettered")
    func smtpOutage() async throws {
        let sink = try await SMTPSink()
        defer { Task { await sink.stop() } }
        let h = try await D.harness(notifications: Options(smtpPort: sink.port,
                                                           settings: .init(maxAttempts: 30, initialBackoff: .milliseconds(200), maxBackoff: .milliseconds(500))))
        let service = h.notifications.service
        try await h.app.test(.router) { api in
            let email = T.email()
            let user = try await T.register(api, email: email)
            let registered = try #require(try await Self.outboxEvents(h, type: IdentityEvents.userRegistered, aggregate: user.user.id).first)
            await sink.stop()
            try await service.plan(registered, inbox: service.plannerInbox)
            let request = try #require(try await Self.requests(h, userID: user.user.id, channel: .email).first)
            let sending = Task { try await service.deliver(request.0, channel: .email) }
            try await Task.sleep(for: .seconds(2))
            try await sink.start()
            try await sending.value
            try await service.deliver(request.0, channel: .email)
            #expect(try sink.messages(to: email).count == 1)
            let admin = try await IdentityAccountTests.admin(T.Harness(platform: h.platform, service: h.identity, app: h.app), api)
            let record = try #require(try await Self.deliveries(api, admin: admin, userID: user.user.id).first)
            #expect(record.status == "sent" && record.attempts > 1, "\(record)")

            // A server that stays away: the attempts run out, the record is dead, and every
            // redelivery fails again so that the platform dead-letters the request.
            await sink.stop()
            try await api.execute(uri: "/v1/auth/password-reset/request", method: .post, headers: [.contentType: "application/json"],
                                  body: T.json(["email": email])) { #expect($0.status == .accepted) }
            let resetEvent = try #require(try await Self.outboxEvents(h, type: IdentityEvents.passwordResetRequested, aggregate: user.user.id).first)
            let impatient = NotificationService(mongo: h.platform.mongo, contacts: IdentityContactDirectory(service: h.identity),
                                                presence: GatewayPresenceDirectory(presence: PresenceStore(redis: h.platform.redis)), fanOut: BridgeFanOut(),
                                                renderer: try await TemplateRenderer.bundled(),
                                                senders: [EmailSender(client: SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: sink.port, security: .none)),
                                                                      from: "no-reply@marketplace.test")],
                                                pushRegistry: nil, settings: .init(maxAttempts: 2, initialBackoff: .milliseconds(50)))
            try await impatient.plan(resetEvent, inbox: impatient.plannerInbox)
            let resetRequest = try #require(try await Self.requests(h, userID: user.user.id, channel: .email).last)
            await #expect(throws: NotificationService.DeliveryAbandoned.self) { try await impatient.deliver(resetRequest.0, channel: .email) }
            await #expect(throws: NotificationService.DeliveryAbandoned.self) { try await impatient.deliver(resetRequest.0, channel: .email) }
            let dead = try #require(try await Self.deliveries(api, admin: admin, userID: user.user.id).first { $0.kind == "password-reset" })
            #expect(dead.status == "dead" && dead.attempts == 2 && dead.lastError?.contains("SMTP") == true, "\(dead)")
        }
        await D.close(h)
    }

    @Test("an endpoint SNS reports disabled disables the device until the app registers the token again")
    func disabledEndpoint() async throws {
        let h = try await D.harness()
        let service = h.notifications.service
        try await h.app.test(.router) { api in
            let provider = try await T.register(api, email: T.email(), role: "provider")
            let pushToken = TestServers.unique("fcm")
            let device = try await Self.registerDevice(api, token: provider.accessToken, pushToken: pushToken)
            #expect(device.enabled)
            let endpoint = try #require(try await h.platform.mongo.collection(DeviceRepository.collectionName, as: Device.self)
                .findOne(["_id": .string(device.id)])?.endpointArn)
            try await Self.sns.setEndpointAttributes(endpoint, ["Enabled": "false"]) // what SNS does when FCM says the token is dead

            func offer() async throws -> (EventEnvelope, SendRequest) {
                let offer = DispatchEvents.OfferEvent(offerId: TestServers.unique("offer"), requestId: TestServers.unique("req"), providerId: provider.user.id, wave: 1)
                try await service.plan(try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.offerSent, aggregateID: offer.requestId, payload: offer),
                                       inbox: service.plannerInbox)
                return try #require(try await Self.requests(h, userID: provider.user.id, channel: .push).last)
            }
            try await service.deliver(try await offer().0, channel: .push)
            let devices: [DeviceView] = try await api.execute(uri: "/v1/devices", method: .get, headers: T.bearer(provider.accessToken)) {
                try JSONDecoder.iso.decode([DeviceView].self, from: $0.body)
            }
            #expect(devices.map(\.enabled) == [false] && devices.first?.disabledAt != nil)
            let admin = try await IdentityAccountTests.admin(T.Harness(platform: h.platform, service: h.identity, app: h.app), api)
            #expect(try await Self.deliveries(api, admin: admin, userID: provider.user.id).first?.status == "failed")
            // The next push finds no enabled device; registering again enables it and pushes arrive.
            try await service.deliver(try await offer().0, channel: .push)
            #expect(try await Self.deliveries(api, admin: admin, userID: provider.user.id).first?.status == "skipped")
            #expect(try await Self.registerDevice(api, token: provider.accessToken, pushToken: pushToken).enabled)
            try await service.deliver(try await offer().0, channel: .push)
            #expect(try await Self.deliveries(api, admin: admin, userID: provider.user.id).first?.status == "sent")
            #expect(try await Self.moto().endpointMessages[pushToken]?.count == 1)
        }
        await D.close(h)
    }

    @Test("bad input: unknown platform or empty token 422; unknown category, channel, time zone or turning account e-mail off 422 naming the field; another's notification or device 404; the feed pages by cursor")
    func badInputAndFeed() async throws {
        let h = try await D.harness()
        try await h.app.test(.router) { api in
            let user = try await T.register(api, email: T.email())
            let other = try await T.register(api, email: T.email())
            func status(_ uri: String, _ method: HTTPRequest.Method, token: String, _ body: [String: Any]? = nil) async throws -> (HTTPResponse.Status, String) {
                try await api.execute(uri: uri, method: method, headers: T.bearer(token), body: body.map { T.json($0) }) { response in
                    (response.status, response.status.code >= 400 ? ((try? T.problem(response).detail ?? "") ?? "") : "")
                }
            }
            #expect(try await status("/v1/devices", .post, token: user.accessToken, ["platform": "windows", "token": "abc"]).0 == .unprocessableContent)
            #expect(try await status("/v1/devices", .post, token: user.accessToken, ["platform": "ios", "token": "  "]).0 == .unprocessableContent)
            for (body, field) in [(["channels": ["news": ["push": true]]], "channels.news"), (["channels": ["jobs": ["fax": true]]], "channels.jobs.fax"),
                                  (["timeZone": "Mars/Olympus"], "timeZone"), (["channels": ["account": ["email": false]]], "channels.account.email"),
                                  (["quietHours": ["start": "25:00", "end": "07:00"]], "quietHours.start")] as [([String: Any], String)] {
                let (code, detail) = try await status("/v1/notifications/preferences", .put, token: user.accessToken, body)
                #expect(code == .unprocessableContent && detail.hasPrefix(field), "\(body): \(code) \(detail)")
            }
            let preferences: NotificationPreferences = try await api.execute(uri: "/v1/notifications/preferences", method: .get, headers: T.bearer(user.accessToken)) {
                try JSONDecoder.iso.decode(NotificationPreferences.self, from: $0.body)
            }
            #expect(preferences.locale == "pt-BR" && preferences.channels["account"]?["email"] == true && preferences.channels["marketing"]?["push"] == false)

            let service = h.notifications.service
            let provider = try await T.register(api, email: T.email(), role: "provider")
            for index in 0..<5 {
                try await service.plan(try Self.jobEvent(user, provider, job: TestServers.unique("job"), from: .assigned, to: .enRoute, by: .provider,
                                                         at: Date().addingTimeInterval(Double(index))), inbox: service.plannerInbox)
            }
            let first = try await Self.feed(api, token: user.accessToken, query: "?limit=2")
            #expect(first.notifications.count == 2 && first.unreadCount == 5)
            let cursor = try #require(first.nextCursor)
            let second = try await Self.feed(api, token: user.accessToken, query: "?limit=2&cursor=\(cursor)")
            let third = try await Self.feed(api, token: user.accessToken, query: "?limit=2&cursor=\(try #require(second.nextCursor))")
            let ids = (first.notifications + second.notifications + third.notifications).map(\.id)
            #expect(ids.count == 5 && Set(ids).count == 5 && third.nextCursor == nil && ids == ids.sorted(by: >))
            #expect(try await status("/v1/notifications?cursor=%27%3B", .get, token: user.accessToken).0 == .badRequest)

            #expect(try await status("/v1/notifications/\(ids[0])/read", .post, token: other.accessToken).0 == .notFound)
            #expect(try await status("/v1/notifications/\(ids[0])/read", .post, token: user.accessToken).0 == .ok)
            let all: NotificationService.ReadAll = try await api.execute(uri: "/v1/notifications/read-all", method: .post, headers: T.bearer(user.accessToken)) {
                try JSONDecoder.iso.decode(NotificationService.ReadAll.self, from: $0.body)
            }
            #expect(all.updated == 4 && all.unreadCount == 0)
            let device = try await Self.registerDevice(api, token: user.accessToken, pushToken: TestServers.unique("apns"), platform: "ios")
            #expect(try await status("/v1/devices/\(device.id)", .delete, token: other.accessToken).0 == .notFound)
            #expect(try await status("/v1/devices/\(device.id)", .delete, token: user.accessToken).0 == .noContent)
            #expect(try await status("/v1/admin/notifications?userId=\(user.user.id)", .get, token: user.accessToken).0 == .forbidden)

            // A deleted account's feed, devices and preferences are erased (user.deleted).
            _ = try await Self.registerDevice(api, token: user.accessToken, pushToken: TestServers.unique("fcm"))
            #expect(try await Self.putPreferences(api, token: user.accessToken, ["locale": "en"]) == .ok)
            try await service.erase(userID: user.user.id)
            #expect(try await Self.feed(api, token: user.accessToken).notifications.isEmpty)
            #expect(try await h.platform.mongo.collection(DeviceRepository.collectionName, as: Device.self).count(["userId": .string(user.user.id)]) == 0)
            #expect(try await service.preferences(of: user.user.id).locale == "pt-BR")
        }
        await D.close(h)
    }

    // MARK: pure parts

    @Test("every template renders in pt-BR and en with no tag left over; HTML escapes values, text does not")
    func templates() async throws {
        let renderer = try await TemplateRenderer.bundled()
        let values = ["name": "Zé <b>", "otherName": "Ana", "providerName": "Ana", "reason": "chuva", "senderName": "Ana", "preview": "Oi",
                      "title": "T", "body": "B", "link": "http://x/reset?token=abc", "expiresAt": "2026-12-02T10:00:00Z", "provider": "yes",
                      "amount": "64.00 EUR"]
        for locale in NotificationPreferences.supportedLocales {
            for kind in NotificationKind.allCases {
                for part in TemplateRenderer.Part.allCases where renderer.has(kind, part, locale: locale) {
                    let text = try renderer.render(kind, part, locale: locale, values: values)
                    #expect(!text.isEmpty && !text.contains("{{"), "\(locale) \(kind) \(part): \(text)")
                }
            }
            #expect(renderer.has(.passwordReset, .html, locale: locale) && renderer.has(.jobArrived, .sms, locale: locale))
        }
        #expect(try renderer.render(.welcome, .html, locale: "en", values: values).contains("Zé &lt;b&gt;"))
        #expect(try renderer.render(.welcome, .text, locale: "en", values: values).contains("Zé <b>"))
        #expect(try renderer.render(.jobCancelled, .body, locale: "pt-BR", values: ["otherName": "Ana"]) == "Ana cancelou o serviço.")
        #expect(try renderer.render(.jobCancelled, .body, locale: "en", values: ["otherName": "Ana", "reason": "rain"]) == "Ana cancelled the job. Reason: rain")
        #expect(try renderer.render(.paymentReceipt, .body, locale: "pt-BR", values: ["amount": "5.00 EUR", "fee": "yes"])
                == "Taxa de cancelamento cobrada: 5.00 EUR. O restante da reserva foi liberado.")
        #expect(try renderer.render(.paymentReceipt, .body, locale: "en", values: ["amount": "64.00 EUR", "otherName": "Ana"])
                == "You paid 64.00 EUR for the job with Ana. The rest of the hold was released.")
    }

    @Test("quiet hours across midnight, in the user's time zone; the planner's choices")
    func plannerRules() throws {
        let quiet = QuietHours(start: "22:00", end: "07:00")
        let lisbon = TimeZone(identifier: "Europe/Lisbon")!
        let late = ISO8601DateFormatter().date(from: "2026-07-01T22:30:00Z")! // 23:30 in Lisbon (summer)
        #expect(quiet.end(containing: late, in: lisbon) == ISO8601DateFormatter().date(from: "2026-07-02T06:00:00Z"))
        let noon = ISO8601DateFormatter().date(from: "2026-07-01T11:00:00Z")!
        #expect(quiet.end(containing: noon, in: lisbon) == nil)

        let planner = DeliveryPlanner(smsFallbackDelay: 60)
        let contact = Contact(userId: "u", email: "u@x", name: "U", phone: "+351 912 345 678", role: .client, active: true)
        var preferences = NotificationPreferences(timeZone: "Europe/Lisbon", quietHours: quiet)
        preferences.channels["jobs"]?["sms"] = true
        func intent(_ kind: NotificationKind) -> NotificationIntent { NotificationIntent(recipientId: "u", kind: kind, sourceEventId: "e", eventTime: late) }
        let arrived = planner.plan(intent(.jobArrived), preferences: preferences, connected: false, contact: contact, now: late)
        #expect(arrived.feed && arrived.sends.keys.sorted { $0.rawValue < $1.rawValue } == [.push] && arrived.sends[.push]! == nil)
        #expect(arrived.smsFallbackAt == late.addingTimeInterval(60))
        let enRoute = planner.plan(intent(.jobEnRoute), preferences: preferences, connected: false, contact: contact, now: late)
        #expect(enRoute.sends[.push]! == ISO8601DateFormatter().date(from: "2026-07-02T06:00:00Z"), "held (and it will have expired by then)")
        let connected = planner.plan(intent(.jobArrived), preferences: preferences, connected: true, contact: contact, now: late)
        #expect(connected.sends.isEmpty && connected.feed && connected.smsFallbackAt != nil)
        let reset = planner.plan(intent(.passwordReset), preferences: preferences, connected: false, contact: Contact(userId: "u", email: "u@x", name: "U", phone: nil, role: .client, active: false), now: late)
        #expect(reset.sends.keys.map(\.self) == [.email] && reset.sends[.email]! == nil, "a suspended user still gets the reset, at once")
        #expect(Contact(userId: "u", email: "", name: "", phone: "912 345 678", role: .client, active: true).e164 == nil)
        #expect(contact.e164 == "+351912345678")
        #expect(try NotificationPreferences(quietHours: QuietHours(start: "00:00", end: "00:00")).validated().quietHours == nil, "an empty window is none")
    }

    @Test("the SMTP client upgrades with STARTTLS when the server offers it; without it a server that requires TLS refuses the mail (5xx: permanent)")
    func smtpStartTLS() async throws {
        let sink = try await SMTPSink(startTLS: true)
        defer { Task { await sink.stop() } }
        let message = EmailMessage(from: "a@marketplace.test", to: "tls@example.com", subject: "TLS", text: "over TLS", html: nil, messageID: "tls-1@x")
        let client = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: sink.port, security: .required, verifyCertificate: false))
        _ = try await client.send(message)
        #expect(try sink.messages(to: "tls@example.com").map(\.text) == ["over TLS"])
        let plain = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: sink.port, security: .none))
        await #expect { try await plain.send(message) } throws: { error in
            guard let smtp = error as? SMTPError, case .rejected(_, let reply) = smtp else { return false }
            return reply.code >= 500 && !smtp.isTransient
        }
        let verifying = SMTPClient(configuration: SMTPConfiguration(host: "127.0.0.1", port: sink.port, security: .required))
        await #expect(throws: (any Error).self, "a self-signed certificate is refused when verification is on") { try await verifying.send(message) }
        #expect(try sink.messages().count == 1)
    }

    @Test("the SMTP client's message: multipart text + HTML, encoded subject, dot-stuffing")
    func emailFormat() {
        let message = EmailMessage(from: "a@x", fromName: "Marketplace", to: "b@y", subject: "Olá", text: ".leading dot\nline", html: "<p>x</p>", messageID: "id-1@x")
        let parsed = SMTPSink.parse(message.rendered())
        #expect(parsed.subject == "Olá" && parsed.text == ".leading dot\nline" && parsed.parts["text/html"] == "<p>x</p>")
        #expect(SMTPClient.dotStuffed("a\r\n.b\r\n") == "a\r\n..b\r\n")
    }
}
