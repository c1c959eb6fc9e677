import Foundation
import MarketplaceKafka
import Testing

@Suite("Kafka adapter against Tansu", .timeLimit(.minutes(3)))
struct KafkaAdapterTests {
    @Test("produce and consume keep keys, headers and per-key order")
    func produceConsumeOrderedPerKey() async throws {
        try await TestServers.withTopic(partitions: 4) { topic in
            let producer = try TestServers.producer()
            let keys = ["alpha", "bravo", "charlie", "delta", "echo"]
            var messages: [KafkaOutgoingMessage] = []
            for sequence in 0..<40 {
                for key in keys {
                    messages.append(KafkaOutgoingMessage(topic: topic, key: key, value: Array("\(key)-\(sequence)".utf8),
                                                         headers: [KafkaHeader(name: "seq", value: String(sequence)), KafkaHeader(name: "k", value: key)]))
                }
            }
            let report = try await producer.send(messages[0])
            #expect(report.topic == topic)
            #expect(report.offset >= 0)
            try await producer.sendBatch(Array(messages.dropFirst()))
            await producer.close()

            let consumer = try TestServers.consumer(topic: topic, group: TestServers.unique("g"))
            let records = try await consumer.records.collect(messages.count)
            await consumer.close()

            #expect(records.count == 200)
            var lastSequence: [String: Int] = [:]
            var partitionOfKey: [String: Int32] = [:]
            for record in records {
                let key = try #require(record.keyString)
                let sequence = try #require(record.header("seq")?.stringValue.flatMap { Int($0) })
                #expect(record.header("k")?.stringValue == key)
                #expect(String(decoding: record.value, as: UTF8.self) == "\(key)-\(sequence)")
                #expect(sequence == (lastSequence[key] ?? -1) + 1, "key \(key) out of order")
                lastSequence[key] = sequence
                if let partition = partitionOfKey[key] { #expect(partition == record.partition) }
                partitionOfKey[key] = record.partition
            }
            #expect(lastSequence.values.allSatisfy { $0 == 39 })
        }
    }

    @Test("two consumers in one group share the partitions and together get every record")
    func groupSharesPartitions() async throws {
        try await TestServers.withTopic(partitions: 4) { topic in
            let group = TestServers.unique("g")
            let first = try TestServers.consumer(topic: topic, group: group)
            let second = try TestServers.consumer(topic: topic, group: group)
            #expect(try await eventually(timeout: .seconds(45)) {
                first.assignment.count == 2 && second.assignment.count == 2
            }, "both members should own two partitions after the rebalance")
            #expect(first.assignment.isDisjoint(with: second.assignment))

            let producer = try TestServers.producer()
            try await producer.sendBatch((0..<200).map { KafkaOutgoingMessage(topic: topic, key: "key-\($0)", value: Array(String($0).utf8)) })
            await producer.close()

            let receivedByFirst = Mutex2<[KafkaRecord]>([])
            let receivedBySecond = Mutex2<[KafkaRecord]>([])
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                for (consumer, sink) in [(first, receivedByFirst), (second, receivedBySecond)] {
                    tasks.addTask {
                        for await record in consumer.records {
                            try consumer.storeOffset(record)
                            _ = sink.append(record)
                        }
                    }
                }
                #expect(try await eventually(timeout: .seconds(30)) { receivedByFirst.count + receivedBySecond.count >= 200 })
                first.stopDelivery()
                second.stopDelivery()
                try await tasks.waitForAll()
            }
            let ownedByFirst = first.assignment, ownedBySecond = second.assignment
            await first.close()
            await second.close()
            let all = receivedByFirst.value + receivedBySecond.value
            #expect(all.count == 200)
            #expect(Set(all.map { String(decoding: $0.value, as: UTF8.self) }) == Set((0..<200).map(String.init)))
            // Each member received only records of the partitions it owned, and both received some.
            #expect(!receivedByFirst.value.isEmpty && !receivedBySecond.value.isEmpty)
            #expect(receivedByFirst.value.allSatisfy { ownedByFirst.contains(KafkaTopicPartition(topic: topic, partition: $0.partition)) })
            #expect(receivedBySecond.value.allSatisfy { ownedBySecond.contains(KafkaTopicPartition(topic: topic, partition: $0.partition)) })
        }
    }

    @Test("close() waits for the handle to be destroyed even in a cancelled task (shutdown path)")
    func closeInCancelledTask() async throws {
        try await TestServers.withTopic { topic in
            let consumer = try TestServers.consumer(topic: topic, group: TestServers.unique("g"))
            let closing = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                await consumer.close()
                return consumer.isClosed
            }
            // Without this guarantee a consumer outlived its owner and librdkafka crashed on
            // the metadata of its topic, deleted meanwhile (signal 11 in CI).
            #expect(await closing.value, "close() returned before the poll thread destroyed the handle")
        }
    }

    @Test("a consumer stopped mid-stream resumes from its committed offset: nothing lost")
    func resumesFromCommittedOffset() async throws {
        try await TestServers.withTopic(partitions: 1) { topic in
            let producer = try TestServers.producer()
            try await producer.sendBatch((0..<100).map { KafkaOutgoingMessage(topic: topic, key: "k", value: Array(String($0).utf8)) })
            await producer.close()
            let group = TestServers.unique("g")

            // First member handles 100 records but only 60 handlers "succeed" before it dies.
            let first = try TestServers.consumer(topic: topic, group: group)
            let seen = try await first.records.collect(100)
            for record in seen.prefix(60) { try first.storeOffset(record) }
            await first.close()

            let second = try TestServers.consumer(topic: topic, group: group)
            let rest = try await second.records.collect(40)
            #expect(rest.first?.offset == 60)
            #expect(rest.map { String(decoding: $0.value, as: UTF8.self) } == (60..<100).map(String.init))
            for record in rest { try second.storeOffset(record) }
            await second.close()

            // Everything was committed: a third member has nothing left to read.
            let third = try TestServers.consumer(topic: topic, group: group)
            let producer2 = try TestServers.producer()
            try await producer2.send(KafkaOutgoingMessage(topic: topic, key: "k", value: Array("marker".utf8)))
            await producer2.close()
            let next = try await third.records.collect(1)
            #expect(String(decoding: next[0].value, as: UTF8.self) == "marker")
            await third.close()
        }
    }

    @Test("a slow handler pauses the partitions and resumes them without losing records")
    func backpressurePausesAndResumes() async throws {
        try await TestServers.withTopic(partitions: 2) { topic in
            let producer = try TestServers.producer()
            try await producer.sendBatch((0..<300).map { KafkaOutgoingMessage(topic: topic, key: "k\($0 % 2)", value: Array(String($0).utf8)) })
            await producer.close()

            let consumer = try TestServers.consumer(topic: topic, group: TestServers.unique("g"), maxBuffered: 20)
            #expect(try await eventually { consumer.isPaused }, "the consumer should pause with 20 records waiting")
            let records = try await consumer.records.collect(300)
            #expect(Set(records.map { String(decoding: $0.value, as: UTF8.self) }).count == 300)
            #expect(try await eventually { !consumer.isPaused })
            await consumer.close()
        }
    }

    @Test("a refused record surfaces as a typed delivery error")
    func deliveryErrorIsTyped() async throws {
        try await TestServers.withTopic(partitions: 1) { topic in
            let producer = try TestServers.producer()
            await #expect(throws: KafkaError.self) {
                try await producer.send(KafkaOutgoingMessage(topic: topic, key: nil, value: [1], partition: 7))
            }
            await producer.close()
        }
    }

    @Test("admin creates, lists and deletes topics; a duplicate create is a typed error")
    func adminTopics() async throws {
        let admin = try KafkaAdmin(configuration: TestServers.kafkaClient)
        let name = TestServers.unique("admin")
        try await admin.createTopic(name, partitions: 3)
        #expect(try await admin.listTopics().first { $0.name == name }?.partitions == 3)
        do {
            try await admin.createTopic(name, partitions: 3)
            Issue.record("creating an existing topic should fail")
        } catch let error as KafkaError {
            #expect(error.isTopicAlreadyExists)
        }
        try await admin.deleteTopic(name)
        #expect(try await eventually { try await !admin.listTopics().contains { $0.name == name } })
    }

    @Test("an invalid property is refused and named")
    func invalidPropertyNamed() throws {
        do {
            _ = try KafkaProducer(configuration: KafkaProducerConfiguration(client: TestServers.kafkaClient, lingerMillis: -5))
            Issue.record("a negative linger.ms should be refused")
        } catch KafkaError.configuration(let key, let message) {
            #expect(key == "linger.ms")
            #expect(message.contains("outside allowed range"))
        }
    }
}

/// A small lock-protected value for tests.
final class Mutex2<Value: Sendable>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func update<T>(_ body: (inout Value) -> T) -> T { lock.withLock { body(&stored) } }
}

extension Mutex2 where Value == [KafkaRecord] {
    func append(_ record: KafkaRecord) -> Int { update { $0.append(record); return $0.count } }
    var count: Int { value.count }
}
