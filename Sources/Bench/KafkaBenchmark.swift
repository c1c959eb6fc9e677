import CRdKafka
import Foundation
import MarketplaceContracts
import MarketplaceKafka

/// Producer and consumer throughput through our adapter against librdkafka driven directly, on
/// the same broker in the same run. Each side gets a fresh topic with the same data.
public struct KafkaBenchmark: Sendable {
    public var brokers: String
    public var messages: Int
    public var messageSize: Int
    public var partitions: Int
    public var rounds: Int

    public init(brokers: String, messages: Int, messageSize: Int, partitions: Int, rounds: Int) {
        self.brokers = brokers
        self.messages = messages
        self.messageSize = messageSize
        self.partitions = partitions
        self.rounds = rounds
    }

    var client: KafkaClientConfiguration { KafkaClientConfiguration(bootstrapServers: brokers, clientID: "bench") }

    public func run() async throws -> [BenchResult] {
        let admin = try KafkaAdmin(configuration: client)
        var results: [BenchResult] = []
        for round in 1...rounds {
            let rawTopic = "bench-raw-\(UUID().uuidString.prefix(8))"
            let ourTopic = "bench-ours-\(UUID().uuidString.prefix(8))"
            try await admin.createTopic(rawTopic, partitions: partitions)
            try await admin.createTopic(ourTopic, partitions: partitions)
            defer { Task { try? await admin.deleteTopic(rawTopic); try? await admin.deleteTopic(ourTopic) } }

            let rawProduce = try await onThread { try rawProduceLoop(topic: rawTopic) }
            let ourProduce = try await adapterProduce(topic: ourTopic)
            results.append(BenchResult(name: "kafka produce \(messageSize) B", round: round, raw: rawProduce, ours: ourProduce, unit: "msg/s"))

            // Both consumers read the same topic (written by the raw producer), each in its own
            // group: Tansu's fetch speed depends on how the data was batched when produced.
            let rawConsume = try await onThread { try rawConsumeLoop(topic: rawTopic) }
            let ourConsume = try await adapterConsume(topic: rawTopic)
            results.append(BenchResult(name: "kafka consume \(messageSize) B", round: round, raw: rawConsume, ours: ourConsume, unit: "msg/s"))
            try? await admin.deleteTopic(rawTopic)
            try? await admin.deleteTopic(ourTopic)
        }
        return results
    }

    // MARK: ours

    private func adapterProduce(topic: String) async throws -> Double {
        let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client, lingerMillis: 5))
        let payload = [UInt8](repeating: 0x61, count: messageSize)
        let chunk = 10_000
        let start = ContinuousClock.now
        var sent = 0
        // Chunks in flight concurrently, as a service producing at a high rate would.
        try await withThrowingTaskGroup(of: Void.self) { group in
            while sent < messages {
                let count = min(chunk, messages - sent)
                let base = sent
                let batch = (0..<count).map { KafkaOutgoingMessage(topic: topic, key: Array("key-\((base + $0) % 1000)".utf8), value: payload) }
                group.addTask { try await producer.sendBatch(batch) }
                sent += count
                if sent / chunk >= 4 { try await group.next() }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        await producer.close()
        return Double(messages) / elapsed.seconds
    }

    private func adapterConsume(topic: String) async throws -> Double {
        let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(
            client: client, groupID: "bench-\(UUID())", topics: [topic], commitIntervalMillis: 1000, fetchWaitMaxMillis: 100))
        var count = 0
        var start: ContinuousClock.Instant?
        for await record in consumer.records {
            if start == nil { start = .now }
            _ = record.value.count  // the handler looks at the value, as the raw loop does
            try consumer.storeOffset(record)
            count += 1
            if count == messages { break }
        }
        let elapsed = ContinuousClock.now - start!
        let handovers = consumer.handoverStatistics
        print("adapter consumer: \(handovers.batches) hand-overs, \(handovers.records / max(1, handovers.batches)) records each")
        await consumer.close()
        return Double(messages - 1) / elapsed.seconds
    }

    // MARK: raw librdkafka

    /// The same fetch setting the adapter uses (see KafkaConsumerConfiguration), so that both
    /// sides fetch alike.
    private var rawFetchQueueBackoff: [(String, String)] {
        rd_kafka_version() >= 0x0204_0000 ? [("fetch.queue.backoff.ms", "10")] : []
    }

    private func makeConf(_ properties: [(String, String)]) throws -> OpaquePointer {
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        for (key, value) in properties where rd_kafka_conf_set(conf, key, value, &errstr, errstr.count) != RD_KAFKA_CONF_OK {
            throw BenchError("raw conf \(key): \(String(cString: errstr))")
        }
        return conf
    }

    private func rawProduceLoop(topic: String) throws -> Double {
        let conf = try makeConf([("bootstrap.servers", brokers), ("linger.ms", "5"), ("enable.idempotence", "true"), ("acks", "all")])
        rd_kafka_conf_set_dr_msg_cb(conf) { _, message, _ in
            if message?.pointee.err != RD_KAFKA_RESP_ERR_NO_ERROR { rawDeliveryFailures += 1 }
        }
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else { throw BenchError(String(cString: errstr)) }
        defer { rd_kafka_destroy(rk) }
        let rkt = rd_kafka_topic_new(rk, topic, nil)!
        defer { rd_kafka_topic_destroy(rkt) }
        var payload = [UInt8](repeating: 0x61, count: messageSize)
        let start = ContinuousClock.now
        for index in 0..<messages {
            var key = Array("key-\(index % 1000)".utf8)
            while rd_kafka_produce(rkt, -1, RD_KAFKA_MSG_F_COPY, &payload, payload.count, &key, key.count, nil) != 0 {
                rd_kafka_poll(rk, 1)  // queue full: serve delivery reports
            }
            rd_kafka_poll(rk, 0)
        }
        rd_kafka_flush(rk, 60_000)
        let elapsed = ContinuousClock.now - start
        if rawDeliveryFailures > 0 { throw BenchError("raw producer: \(rawDeliveryFailures) delivery failures") }
        return Double(messages) / elapsed.seconds
    }

    private func rawConsumeLoop(topic: String) throws -> Double {
        let conf = try makeConf([("bootstrap.servers", brokers), ("group.id", "bench-raw-\(UUID())"), ("auto.offset.reset", "earliest"),
                                 ("enable.auto.offset.store", "false"), ("auto.commit.interval.ms", "1000"), ("session.timeout.ms", "6000"), ("fetch.wait.max.ms", "100"),
                                 ("partition.assignment.strategy", "cooperative-sticky"), ] + rawFetchQueueBackoff)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else { throw BenchError(String(cString: errstr)) }
        defer { rd_kafka_destroy(rk) }
        rd_kafka_poll_set_consumer(rk)
        let topics = rd_kafka_topic_partition_list_new(1)!
        rd_kafka_topic_partition_list_add(topics, topic, -1)
        rd_kafka_subscribe(rk, topics)
        rd_kafka_topic_partition_list_destroy(topics)
        var count = 0
        var start: ContinuousClock.Instant?
        let offsets = rd_kafka_topic_partition_list_new(1)!
        defer { rd_kafka_topic_partition_list_destroy(offsets) }
        while count < messages {
            guard let message = rd_kafka_consumer_poll(rk, 100) else { continue }
            if message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                if start == nil { start = .now }
                // The same work as the adapter: copy out key and value, store the offset.
                let value = Array(UnsafeRawBufferPointer(start: message.pointee.payload, count: message.pointee.len))
                let key = message.pointee.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.pointee.key_len)) }
                _ = (value.count, key?.count)
                rd_kafka_offset_store(message.pointee.rkt, message.pointee.partition, message.pointee.offset)
                count += 1
            }
            rd_kafka_message_destroy(message)
        }
        let elapsed = ContinuousClock.now - start!
        rd_kafka_consumer_close(rk)
        return Double(messages - 1) / elapsed.seconds
    }
}

nonisolated(unsafe) private var rawDeliveryFailures = 0

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

public struct BenchResult: Sendable {
    public var name: String
    public var round: Int
    public var raw: Double
    public var ours: Double
    public var unit: String
    public var ratio: Double { ours / raw }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var microseconds: Int64 { components.seconds * 1_000_000 + components.attoseconds / 1_000_000_000_000 }
}

/// Polls `condition` every 20 ms until it holds or `timeout` passes; its last answer.
func waitUntil(_ condition: () -> Bool, timeout: Duration) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}

/// Runs a blocking benchmark loop on its own thread.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread { continuation.resume(with: Result { try body() }) }.start()
    }
}
