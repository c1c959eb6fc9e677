import Foundation
import Logging
import MarketplaceKafka
import MarketplaceMessaging
import ServiceLifecycle
import Testing

@Suite("Consumer service: graceful shutdown and dead letters", .timeLimit(.minutes(3)))
struct ConsumerServiceTests {
    static func configuration(topic: String, group: String) -> KafkaConsumerConfiguration {
        KafkaConsumerConfiguration(client: TestServers.kafkaClient, groupID: group, topics: [topic],
                                   commitIntervalMillis: 60_000, fetchWaitMaxMillis: 50)
    }

    @Test("graceful shutdown finishes the record in flight and commits: a restart gets exactly the rest")
    func gracefulShutdownLosesNothing() async throws {
        try await TestServers.withTopic(partitions: 1) { topic in
            let producer = try TestServers.producer()
            try await producer.sendBatch((0..<40).map { KafkaOutgoingMessage(topic: topic, key: "k", value: Array(String($0).utf8)) })
            await producer.close()
            let group = TestServers.unique("g")
            let handled = Mutex2<[String]>([])
            // Commits are batched every 60 s here, so only the shutdown commit can save progress.
            let service = KafkaConsumerService(configuration: Self.configuration(topic: topic, group: group)) { record in
                try await Task.sleep(for: .milliseconds(40))  // a slow handler
                handled.update { $0.append(String(decoding: record.value, as: UTF8.self)) }
            }
            let serviceGroup = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: Logger(label: "test")))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await serviceGroup.run() }
                #expect(try await eventually { handled.value.count >= 10 })
                await serviceGroup.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            let first = handled.value
            #expect(first.count < 40, "shutdown should have stopped the service early")
            #expect(first == (0..<first.count).map(String.init), "handled in order, none skipped")

            let consumer = try TestServers.consumer(topic: topic, group: group)
            let rest = try await consumer.records.collect(40 - first.count)
            await consumer.close()
            #expect(rest.map { String(decoding: $0.value, as: UTF8.self) } == (first.count..<40).map(String.init))
        }
    }

    @Test("partition concurrency: partitions are handled at once, each in order; every offset is committed")
    func partitionsInParallel() async throws {
        try await TestServers.withTopic(partitions: 4) { topic in
            let producer = try TestServers.producer()
            // Produced before the consumer starts, so that fetched batches hold several partitions.
            try await producer.sendBatch((0..<4).flatMap { partition in
                (0..<15).map { KafkaOutgoingMessage(topic: topic, value: Array("\(partition):\($0)".utf8), partition: Int32(partition)) }
            })
            await producer.close()
            let group = TestServers.unique("g")
            let handled = Mutex2<[Int32: [String]]>([:])
            let inFlight = Mutex2<(now: Int, most: Int)>((0, 0))
            var configuration = Self.configuration(topic: topic, group: group)
            configuration.gatherMillis = 500  // one batch holds what every partition's first fetch brought
            let service = KafkaConsumerService(configuration: configuration, partitionConcurrency: 4) { record in
                inFlight.update { $0.now += 1; $0.most = max($0.most, $0.now) }
                try await Task.sleep(for: .milliseconds(30))  // a handler bound by round trips, not CPU
                inFlight.update { $0.now -= 1 }
                handled.update { $0[record.partition, default: []].append(String(decoding: record.value, as: UTF8.self)) }
            }
            let serviceGroup = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: Logger(label: "test")))
            try await withThrowingTaskGroup(of: Void.self) { tasks in
                tasks.addTask { try await serviceGroup.run() }
                #expect(try await eventually(timeout: .seconds(60)) { handled.value.values.map(\.count).reduce(0, +) == 60 })
                await serviceGroup.triggerGracefulShutdown()
                try await tasks.waitForAll()
            }
            for partition in Int32(0)..<4 {
                #expect(handled.value[partition] == (0..<15).map { "\(partition):\($0)" }, "partition \(partition) in order, once each")
            }
            #expect(inFlight.value.most > 1, "more than one partition at a time (at most \(inFlight.value.most))")
            #expect(inFlight.value.most <= 4)

            // Everything was committed: the group gets nothing more.
            let producerAfter = try TestServers.producer()
            try await producerAfter.send(KafkaOutgoingMessage(topic: topic, value: Array("after".utf8), partition: 0))
            await producerAfter.close()
            let consumer = try TestServers.consumer(topic: topic, group: group)
            let next = try await consumer.records.collect(1)
            await consumer.close()
            #expect(next.map { String(decoding: $0.value, as: UTF8.self) } == ["after"])
        }
    }

    @Test("a handler cut off by cancellation is no failure: nothing is dead-lettered, even with one attempt allowed")
    func cancellationIsNotAFailure() async throws {
        try await TestServers.withTopic(partitions: 1) { topic in
            try await TestServers.withTopic(partitions: 1) { deadLetterTopic in
                let producer = try TestServers.producer()
                try await producer.send(KafkaOutgoingMessage(topic: topic, key: "k", value: Array("slow".utf8)))
                let started = Mutex2<Bool>(false)
                let service = KafkaConsumerService(
                    configuration: Self.configuration(topic: topic, group: TestServers.unique("g")),
                    retry: .init(maxAttempts: 1, initialBackoff: .milliseconds(10)),
                    deadLetter: .init(producer: producer, topic: deadLetterTopic)) { _ in
                        started.update { $0 = true }
                        try await Task.sleep(for: .seconds(60))
                    }
                let running = Task { try await service.run() }
                #expect(try await eventually { started.value })
                running.cancel()
                _ = await running.result
                // The dead-letter topic's first record is the marker sent now: nothing came before it.
                try await producer.send(KafkaOutgoingMessage(topic: deadLetterTopic, key: "k", value: Array("marker".utf8)))
                let dlq = try TestServers.consumer(topic: deadLetterTopic, group: TestServers.unique("g"))
                let first = try await dlq.records.collect(1)
                await dlq.close()
                await producer.close()
                #expect(first.map { String(decoding: $0.value, as: UTF8.self) } == ["marker"])
            }
        }
    }

    @Test("a record that keeps failing goes to the dead-letter topic with its origin; the rest flow on")
    func poisonRecordDeadLettered() async throws {
        try await TestServers.withTopic(partitions: 1) { topic in
            try await TestServers.withTopic(partitions: 1) { deadLetterTopic in
                let producer = try TestServers.producer()
                try await producer.sendBatch(["a", "poison", "b"].map { KafkaOutgoingMessage(topic: topic, key: "k", value: Array($0.utf8)) })
                let handled = Mutex2<[String]>([])
                let attempts = Mutex2<Int>(0)
                struct Poison: Error {}
                let service = KafkaConsumerService(
                    configuration: Self.configuration(topic: topic, group: TestServers.unique("g")),
                    retry: .init(maxAttempts: 3, initialBackoff: .milliseconds(10)),
                    deadLetter: .init(producer: producer, topic: deadLetterTopic)) { record in
                        let value = String(decoding: record.value, as: UTF8.self)
                        if value == "poison" { attempts.update { $0 += 1 }; throw Poison() }
                        handled.update { $0.append(value) }
                    }
                let serviceGroup = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: Logger(label: "test")))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await serviceGroup.run() }
                    #expect(try await eventually { handled.value.count == 2 })
                    await serviceGroup.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
                #expect(handled.value == ["a", "b"])
                #expect(attempts.value == 3)

                let dlq = try TestServers.consumer(topic: deadLetterTopic, group: TestServers.unique("g"))
                let dead = try #require(try await dlq.records.collect(1).first)
                await dlq.close()
                await producer.close()
                #expect(String(decoding: dead.value, as: UTF8.self) == "poison")
                #expect(dead.header("dlq_topic")?.stringValue == topic)
                #expect(dead.header("dlq_offset")?.stringValue == "1")
                #expect(dead.header("dlq_error")?.stringValue?.contains("Poison") == true)
            }
        }
    }

    @Test("batch mode: records arrive in batches in order; a batch with a poison record is taken apart and only that record is dead-lettered")
    func batchesTakenApart() async throws {
        try await TestServers.withTopic(partitions: 1) { topic in
            try await TestServers.withTopic(partitions: 1) { deadLetterTopic in
                let producer = try TestServers.producer()
                let values = (0..<30).map { $0 == 12 ? "poison" : String($0) }
                try await producer.sendBatch(values.map { KafkaOutgoingMessage(topic: topic, key: "k", value: Array($0.utf8)) })
                let handled = Mutex2<[String]>([])
                let poisonCalls = Mutex2<[Int]>([])
                struct Poison: Error {}
                let service = KafkaConsumerService(
                    configuration: Self.configuration(topic: topic, group: TestServers.unique("g")),
                    retry: .init(maxAttempts: 2, initialBackoff: .milliseconds(10)),
                    deadLetter: .init(producer: producer, topic: deadLetterTopic)) { (records: [KafkaRecord]) in
                        let texts = records.map { String(decoding: $0.value, as: UTF8.self) }
                        if texts.contains("poison") {  // all or nothing, like a transaction
                            poisonCalls.update { $0.append(records.count) }
                            throw Poison()
                        }
                        handled.update { $0 += texts }
                    }
                let serviceGroup = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: Logger(label: "test")))
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await serviceGroup.run() }
                    #expect(try await eventually { handled.value.count == 29 })
                    await serviceGroup.triggerGracefulShutdown()
                    try await tasks.waitForAll()
                }
                #expect(handled.value == values.filter { $0 != "poison" }, "in order, each once")
                // The poison's batch failed twice whole (more than one record), then twice alone.
                #expect(poisonCalls.value.count == 4 && poisonCalls.value.prefix(2).allSatisfy { $0 > 1 } && poisonCalls.value.suffix(2) == [1, 1],
                        "\(poisonCalls.value)")
                let dlq = try TestServers.consumer(topic: deadLetterTopic, group: TestServers.unique("g"))
                let dead = try await dlq.records.collect(1)
                await dlq.close()
                await producer.close()
                #expect(dead.map { String(decoding: $0.value, as: UTF8.self) } == ["poison"])
                #expect(dead.first?.header("dlq_offset")?.stringValue == "12")
            }
        }
    }
}

