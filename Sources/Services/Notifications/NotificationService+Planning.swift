import Foundation
import MarketplaceContracts
import MarketplaceMessaging
import MarketplaceMongo

/// The planner: what a domain event means to whom (`NotificationIntent`), how it goes out
/// (`DeliveryPlanner`), rendered from the templates in the recipient's locale, and written — feed
/// entries, live pushes, delivery records, send requests, waiting sends — in one transaction.
extension NotificationService {
    /// Everything one intent becomes, prepared outside the transaction (lookups, rendering).
    struct Prepared: Sendable {
        var entry: FeedEntry?
        var created: EventEnvelope?
        var immediate: [(record: DeliveryRecord, request: EventEnvelope)]
        var waiting: [(record: DeliveryRecord, send: ScheduledSend)]
        /// The job whose pending sends to this recipient no longer apply.
        var supersedes: (userID: String, jobID: String)?
    }

    /// Applies one domain event once (the `notifications` worker, through its inbox).
    public func plan(_ event: EventEnvelope, inbox: Inbox) async throws {
        let intents = try NotificationIntent.from(event) { [settings] token in
            settings.resetLink.replacingOccurrences(of: "{token}", with: token.addingPercentEncoding(withAllowedCharacters: .urlQueryAllowed) ?? token)
        }
        guard !intents.isEmpty else { return }
        var prepared: [Prepared] = []
        for intent in intents {
            if let one = try await prepare(intent, now: Date(), traceparent: event.traceparent, supersedes: event.type == DispatchEvents.jobStatusChanged) {
                prepared.append(one)
            }
        }
        let (fanOut, planned) = (self.fanOut, prepared)
        let applied = try await inbox.processOnce(event) { session in try Self.persist(planned, fanOut: fanOut, in: session) }
        if applied { count(prepared) }
    }

    /// An admin's announcement to one user (marketing: preferences and quiet hours apply).
    public func announce(_ caller: Caller, userID: String, title: String, body: String, traceparent: String?) async throws -> [DeliveryView] {
        guard caller.role == .admin else { throw DomainError.forbidden }
        let title = title.trimmingCharacters(in: .whitespacesAndNewlines), body = body.trimmingCharacters(in: .whitespacesAndNewlines)
        guard (1...120).contains(title.count) else { throw DomainError.validation("title: 1 to 120 characters") }
        guard (1...1_000).contains(body.count) else { throw DomainError.validation("body: 1 to 1000 characters") }
        guard PlatformIdentifier.isWellFormed(userID), try await contacts.contact(of: userID) != nil else { throw DomainError.notFound("user '\(userID)'") }
        let intent = NotificationIntent(recipientId: userID, kind: .announcement, values: ["title": title, "body": body],
                                        sourceEventId: "announcement-\(UUID().uuidString.lowercased())", eventTime: Date())
        guard let prepared = try await prepare(intent, now: Date(), traceparent: traceparent, supersedes: false) else { return [] }
        let fanOut = self.fanOut
        try await mongo.withTransaction { session in try Self.persist([prepared], fanOut: fanOut, in: session) }
        count([prepared])
        return (prepared.immediate.map(\.record) + prepared.waiting.map(\.record)).map(\.view)
    }

    func prepare(_ intent: NotificationIntent, now: Date, traceparent: String?, supersedes: Bool) async throws -> Prepared? {
        guard let contact = try await contacts.contact(of: intent.recipientId) else { return nil }
        let preferences = try await preferences(of: intent.recipientId)
        var connected = false
        if intent.kind.channels.contains(.push) && preferences.allows(intent.kind.category, .push) {
            // Presence unknown (Redis away): push rather than risk silence.
            connected = (try? await presence.isConnected(intent.recipientId)) ?? false
        }
        let plan = planner.plan(intent, preferences: preferences, connected: connected, contact: contact, now: now)
        var prepared = Prepared(entry: nil, created: nil, immediate: [], waiting: [],
                                supersedes: supersedes ? intent.jobId.map { (intent.recipientId, $0) } : nil)
        guard !plan.isEmpty else { return prepared }

        var values = intent.values
        values["name"] = contact.name
        for (key, userID) in intent.people { values[key] = try await contacts.contact(of: userID)?.name ?? "—" }
        let locale = preferences.locale
        let kind = intent.kind
        let needsTitle = plan.feed || plan.sends[.push] != nil
        let title = needsTitle ? try renderer.render(kind, .title, locale: locale, values: values) : ""
        let body = needsTitle ? try renderer.render(kind, .body, locale: locale, values: values) : ""

        if plan.feed {
            let entry = FeedEntry(_id: FeedEntry.makeID(at: now), userId: intent.recipientId, kind: kind, category: kind.category, title: title, body: body,
                                  jobId: intent.jobId, data: intent.data, critical: kind.urgency == .critical, eventId: intent.sourceEventId,
                                  createdAt: intent.eventTime, readAt: nil)
            prepared.entry = entry
            prepared.created = try EventEnvelope(source: NotificationEvents.source, type: NotificationEvents.created, aggregateID: intent.recipientId,
                                                 payload: NotificationEvents.Created(id: entry._id, userId: entry.userId, kind: kind.rawValue,
                                                                                     category: kind.category.rawValue, title: title, body: body,
                                                                                     jobId: intent.jobId, createdAt: entry.createdAt),
                                                 traceparent: traceparent)
        }

        func request(_ channel: NotificationChannel) throws -> SendRequest {
            var request = SendRequest(deliveryId: SendRequest.deliveryID(source: intent.sourceEventId, userID: intent.recipientId, channel: channel),
                                      userId: intent.recipientId, channel: channel, kind: kind, urgency: kind.urgency, jobId: intent.jobId,
                                      notificationId: prepared.entry?._id, eventTime: intent.eventTime)
            switch channel {
            case .push:
                let ttl = DeliveryPlanner.pushTTL(kind)
                var data = intent.data
                data["kind"] = kind.rawValue
                if let id = prepared.entry?._id { data["notificationId"] = id }
                let collapse = intent.jobId.map { kind == .chatMessage ? "chat-\($0)" : "job-\($0)" }
                request.push = .init(title: title, body: body, collapseKey: collapse, ttlSeconds: ttl, data: data)
                request.expiresAt = intent.eventTime.addingTimeInterval(TimeInterval(ttl))
            case .email:
                request.email = .init(to: contact.email, name: contact.name, subject: try renderer.render(kind, .subject, locale: locale, values: values),
                                      text: try renderer.render(kind, .text, locale: locale, values: values),
                                      html: try renderer.render(kind, .html, locale: locale, values: values))
            case .sms:
                request.sms = .init(to: contact.e164 ?? "", text: try renderer.render(kind, .sms, locale: locale, values: values))
            case .inApp:
                break
            }
            return request
        }

        func record(_ request: SendRequest, status: DeliveryRecord.Status, dueAt: Date?) -> DeliveryRecord {
            DeliveryRecord(_id: request.deliveryId, userId: request.userId, channel: request.channel, kind: kind, status: status, attempts: 0,
                           jobId: request.jobId, notificationId: request.notificationId, dueAt: dueAt, providerMessageId: nil, lastError: nil,
                           createdAt: now, updatedAt: now, sentAt: nil)
        }

        for channel in NotificationChannel.sent {
            guard let entry = plan.sends[channel] else { continue }
            let send = try request(channel)
            if let dueAt = entry {
                prepared.waiting.append((record(send, status: .scheduled, dueAt: dueAt),
                                         ScheduledSend(_id: send.deliveryId, dueAt: dueAt, status: .pending, userId: send.userId, jobId: send.jobId,
                                                       unlessRead: nil, request: send)))
            } else {
                prepared.immediate.append((record(send, status: .queued, dueAt: nil),
                                           try EventEnvelope(source: NotificationEvents.source, type: NotificationEvents.requested,
                                                             aggregateID: send.userId, payload: send, traceparent: traceparent)))
            }
        }
        if let dueAt = plan.smsFallbackAt, let entry = prepared.entry {
            let send = try request(.sms)
            prepared.waiting.append((record(send, status: .scheduled, dueAt: dueAt),
                                     ScheduledSend(_id: send.deliveryId, dueAt: dueAt, status: .pending, userId: send.userId, jobId: send.jobId,
                                                   unlessRead: entry._id, request: send)))
        }
        return prepared
    }

    /// One intent's writes: its feed entry, delivery records and waiting sends, and one outbox
    /// document for all its records (the feed entry's event, its fan-out records, the send
    /// requests: one insert, published in that order).
    static func persist(_ prepared: [Prepared], fanOut: (any RealtimeFanOut)?, in session: MongoSession) throws {
        let now = Date()
        for one in prepared {
            if let (userID, jobID) = one.supersedes {
                try DeliveryRepository.cancelPending(userID: userID, jobID: jobID, now: now, in: session)
            }
            var records: [(event: EventEnvelope, topic: Topic)] = []
            if let entry = one.entry, let created = one.created {
                try session.collection(FeedRepository.collectionName, as: FeedEntry.self).insert(entry)
                records.append((created, .notifications))
                records += try fanOut?.publications(for: created).map { (event: $0, topic: Topic.realtimePublications) } ?? []
            }
            for (record, request) in one.immediate {
                try session.collection(DeliveryRepository.collectionName, as: DeliveryRecord.self).insert(record)
                records.append((request, .notifications))
            }
            for (record, send) in one.waiting {
                try session.collection(DeliveryRepository.collectionName, as: DeliveryRecord.self).insert(record)
                try session.collection(DeliveryRepository.scheduleCollectionName, as: ScheduledSend.self).insert(send)
            }
            if let first = records.first {
                try Outbox.append(first.event, to: first.topic, with: Array(records.dropFirst()), in: session)
            }
        }
    }

    private func count(_ prepared: [Prepared]) {
        for one in prepared {
            if one.entry != nil { metrics.planned.increment() }
            metrics.planned.increment(by: Int64(one.immediate.count))
            metrics.held.increment(by: Int64(one.waiting.filter { $0.send.unlessRead == nil }.count))
        }
    }

    // MARK: waiting sends

    /// Sends whose time came: a held one goes; an SMS fallback goes only while its in-app entry
    /// is unread. Safe with several planners: the pending → done change decides who sends.
    @discardableResult
    public func releaseDueSends(now: Date = Date(), limit: Int = 200) async throws -> Int {
        var released = 0
        for send in try await deliveries.due(now: now, limit: limit) {
            if let entryID = send.unlessRead, try await feed.find(entryID)?.readAt != nil {
                try await deliveries.cancel(send, reason: "read in the app", now: now)
                metrics.cancelled.increment()
                continue
            }
            let event = try EventEnvelope(source: NotificationEvents.source, type: NotificationEvents.requested, aggregateID: send.userId, payload: send.request)
            let took = try await mongo.withTransaction { session -> Bool in
                let changed = try session.collection(DeliveryRepository.scheduleCollectionName, as: ScheduledSend.self)
                    .updateOne(["_id": .string(send._id), "status": .string(ScheduledSend.Status.pending.rawValue)],
                               ["$set": ["status": .string(ScheduledSend.Status.done.rawValue)]])
                guard changed.modified == 1 else { return false }
                try session.collection(DeliveryRepository.collectionName, as: DeliveryRecord.self)
                    .updateOne(["_id": .string(send._id), "status": .string(DeliveryRecord.Status.scheduled.rawValue)],
                               ["$set": ["status": .string(DeliveryRecord.Status.queued.rawValue), "updatedAt": .date(now)]])
                try Outbox.append(event, to: .notifications, in: session)
                return true
            }
            if took { released += 1 }
        }
        return released
    }
}
