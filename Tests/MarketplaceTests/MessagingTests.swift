import Foundation
import MarketplaceContracts
import MarketplaceKafka
import MarketplaceMessaging
import MarketplaceMongo
import Testing

struct UserRegistered: Codable, Sendable, Equatable {
    var userId: String
    var email: String
}

struct UserDocument: Codable, Sendable {
    var _id: String
    var email: String
}

@Suite("Events: CloudEvents on Kafka, outbox, inbox", .timeLimit(.minutes(3)))
struct MessagingTests {
    @Test("an event crosses Kafka in CloudEvents binary mode and decodes to the same envelope")
    func cloudEventsRoundTrip() async throws {
        try await TestServers.withTopic(partitions: 2) { topic in
            let traceparent = TraceParent().description
            let event = try EventEnvelope(source: "/services/identity", type: "marketplace.user.registered.v1",
                                          aggregateID: "user-1", payload: UserRegistered(userId: "user-1", email: "a@b.c"),
                                          traceparent: traceparent, time: Date(timeIntervalSince1970: 1_763_000_000.5))
            let producer = try TestServers.producer()
            try await KafkaEventPublisher(producer: producer, topics: TopicNames()).publish(event, to: Topic(rawValue: topic))
            await producer.close()

            let consumer = try TestServers.consumer(topic: topic, group: TestServers.unique("g"))
            let record = try #require(try await consumer.records.collect(1).first)
            await consumer.close()

            #expect(record.keyString == "user-1")
            #expect(record.header("ce_specversion")?.stringValue == "1.0")
            #expect(record.header("ce_type")?.stringValue == "marketplace.user.registered.v1")
            #expect(record.header("content-type")?.stringValue == "application/json")
            #expect(record.header("ce_time")?.stringValue == "2025-11-13T02:13:20.500Z")
            #expect(record.header("traceparent")?.stringValue == traceparent)
            let decoded = try CloudEventsKafka.event(from: record)
            #expect(decoded == event)
            #expect(try decoded.decode(UserRegistered.self) == UserRegistered(userId: "user-1", email: "a@b.c"))
            #expect(decoded.type.version == 1)
        }
    }

    @Test("a record without CloudEvents headers is refused with the missing attribute named")
    func missingHeadersRefused() {
        let record = KafkaRecord(topic: "t", partition: 0, offset: 0, key: nil, value: [], headers: [KafkaHeader(name: "ce_specversion", value: "1.0")], timestampMillis: nil)
        #expect(throws: CloudEventsKafka.DecodingError.missingAttribute("ce_time")) { try CloudEventsKafka.event(from: record) }
    }

    @Test("traceparent parsing accepts W3C headers and rejects malformed ones")
    func traceparent() {
        let header = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        #expect(TraceParent(header)?.description == header)
        #expect(TraceParent("00-00000000000000000000000000000000-00f067aa0ba902b7-01") == nil)
        #expect(TraceParent("garbage") == nil)
        let child = TraceParent(header)!.child()
        #expect(child.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" && child.parentID != "00f067aa0ba902b7")
    }

    @Test("the outbox publishes after a crash between the write and the publish, in order per aggregate")
    func outboxSurvivesCrash() async throws {
        try await TestServers.withTopic(partitions: 3) { topic in
            let mongo = try TestServers.mongo()
            try await Outbox.prepare(mongo)
            // The service writes its document and its events in one transaction...
            for index in 0..<5 {
                try await mongo.withTransaction { session in
                    try session.collection("users", as: UserDocument.self).insert(UserDocument(_id: "u\(index)", email: "u\(index)@x.y"))
                    for step in 0..<3 {
                        let event = try EventEnvelope(source: "/services/identity", type: "marketplace.user.step.v1",
                                                      aggregateID: "u\(index)", payload: ["step": step])
                        try Outbox.append(event, to: Topic(rawValue: topic), in: session)
                    }
                }
            }
            // ...and "crashes" before any relay ran. A transaction that failed leaves no event behind:
            struct Crash: Error {}
            _ = try? await mongo.withTransaction { session in
                try Outbox.append(try EventEnvelope(source: "/s", type: "marketplace.user.ghost.v1", aggregateID: "ghost", payload: [1]), to: Topic(rawValue: topic), in: session)
                throw Crash()
            }
            #expect(try await mongo.collection(Outbox.collection, as: OutboxEntry.self).count(["status": "pending"]) == 15)

            // A new process starts its relay.
            let producer = try TestServers.producer()
            let relay = OutboxRelay(mongo: mongo, producer: producer, topics: TopicNames())
            #expect(try await relay.relayOnce() == 15)
            #expect(try await relay.relayOnce() == 0, "sent entries are not published again")
            #expect(try await mongo.collection(Outbox.collection, as: OutboxEntry.self).count(["status": "sent"]) == 15)

            let consumer = try TestServers.consumer(topic: topic, group: TestServers.unique("g"))
            let records = try await consumer.records.collect(15)
            await consumer.close()
            await producer.close()
            var steps: [String: [Int]] = [:]
            for record in records {
                let event = try CloudEventsKafka.event(from: record)
                steps[event.aggregateID, default: []].append(try event.decode([String: Int].self)["step"]!)
            }
            #expect(steps.count == 5)
            #expect(steps.values.allSatisfy { $0 == [0, 1, 2] })
            #expect(steps["ghost"] == nil)
        }
    }

    @Test("an entry's companions are published right after it, on their own topics, from one outbox document")
    func outboxCompanions() async throws {
        try await TestServers.withTopic { events in
            try await TestServers.withTopic { fanOut in
                let mongo = try TestServers.mongo()
                try await Outbox.prepare(mongo)
                try await mongo.withTransaction { session in
                    for n in 0..<3 {
                        let event = try EventEnvelope(source: "/services/chat", type: "chat.message-sent.v1", aggregateID: "job-1", payload: ["n": n])
                        let companions = try (0..<2).map { k in
                            (event: try EventEnvelope(source: "/services/realtime", type: "marketplace.realtime.publication.v1", aggregateID: "chat:job-1",
                                                      payload: ["n": n * 10 + k]), topic: Topic(rawValue: fanOut))
                        }
                        try Outbox.append(event, to: Topic(rawValue: events), with: companions, in: session)
                    }
                }
                #expect(try await mongo.collection(Outbox.collection, as: OutboxEntry.self).count() == 3, "one document per event")
                let producer = try TestServers.producer()
                #expect(try await OutboxRelay(mongo: mongo, producer: producer, topics: TopicNames()).relayOnce() == 3)
                let main = try TestServers.consumer(topic: events, group: TestServers.unique("g"))
                let side = try TestServers.consumer(topic: fanOut, group: TestServers.unique("g"))
                let mainValues = try await main.records.collect(3).map { try CloudEventsKafka.event(from: $0).decode([String: Int].self)["n"]! }
                let sideValues = try await side.records.collect(6).map { try CloudEventsKafka.event(from: $0).decode([String: Int].self)["n"]! }
                await main.close()
                await side.close()
                await producer.close()
                #expect(mainValues == [0, 1, 2])
                #expect(sideValues == [0, 1, 10, 11, 20, 21], "in order, keyed by their own aggregate")
            }
        }
    }

    @Test("a second relay instance waits while the first holds the lease")
    func relayLease() async throws {
        let mongo = try TestServers.mongo()
        let producer = try TestServers.producer()
        let first = OutboxRelay(mongo: mongo, producer: producer, topics: TopicNames(), configuration: .init(owner: "first"))
        let second = OutboxRelay(mongo: mongo, producer: producer, topics: TopicNames(), configuration: .init(owner: "second"))
        try await mongo.withTransaction { session in
            try Outbox.append(try EventEnvelope(source: "/s", type: "marketplace.t.v1", aggregateID: "a", payload: [1]), to: Topic(rawValue: "unused-topic-\(UUID())"), in: session)
        }
        _ = try? await first.relayOnce()  // takes the lease (publishing to a missing topic may fail)
        #expect(try await second.relayOnce() == 0)
        await producer.close()
    }

    @Test("the inbox applies a redelivered event once")
    func inboxDropsRedelivery() async throws {
        let mongo = try TestServers.mongo()
        let inbox = Inbox(mongo: mongo, consumer: "notifications")
        let event = try EventEnvelope(source: "/services/identity", type: "marketplace.user.registered.v1",
                                      aggregateID: "user-9", payload: UserRegistered(userId: "user-9", email: "n@x.y"))
        let apply: @Sendable (MongoSession) throws -> Void = { session in
            try session.collection("counters", as: BSONDocument.self).updateOne(["_id": "welcome-mails"], ["$inc": ["sent": 1]], upsert: true)
        }
        #expect(try await inbox.processOnce(event, apply))
        #expect(try await !inbox.processOnce(event, apply), "a redelivery is skipped")
        let other = try EventEnvelope(source: "/services/identity", type: "marketplace.user.registered.v1",
                                      aggregateID: "user-10", payload: UserRegistered(userId: "user-10", email: "m@x.y"))
        #expect(try await inbox.processOnce(other, apply))
        let counter = try await mongo.collection("counters", as: BSONDocument.self).findOne(["_id": "welcome-mails"])
        #expect(counter?["sent"]?.intValue == 2)

        // A handler that fails leaves no inbox record: the redelivery is applied.
        struct Failure: Error {}
        let third = try EventEnvelope(source: "/s", type: "marketplace.user.registered.v1", aggregateID: "u3", payload: [1])
        await #expect(throws: Failure.self) { try await inbox.processOnce(third) { _ in throw Failure() } }
        #expect(try await inbox.processOnce(third, apply))
    }
}
