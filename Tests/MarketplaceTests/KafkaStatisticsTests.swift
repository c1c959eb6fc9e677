import Foundation
import MarketplaceKafka
import MarketplacePlatform
import Testing

@Suite("Kafka statistics as metrics", .timeLimit(.minutes(2)))
struct KafkaStatisticsTests {
    @Test("librdkafka's statistics become Prometheus gauges: consumer lag per partition, queue depth")
    func statisticsExported() async throws {
        let registry = PlatformRunner.registry  // bootstraps the process's metrics system
        try await TestServers.withTopic(partitions: 2) { topic in
            var client = TestServers.kafkaClient
            client.clientID = TestServers.unique("stats")
            client.statisticsIntervalMillis = 200
            let producer = try KafkaProducer(configuration: KafkaProducerConfiguration(client: client, lingerMillis: 1))
            // One key: all 50 records on one partition.
            try await producer.sendBatch((0..<50).map { _ in KafkaOutgoingMessage(topic: topic, key: "one-key", value: [1]) })
            let group = TestServers.unique("g")
            let consumer = try KafkaConsumer(configuration: KafkaConsumerConfiguration(
                client: client, groupID: group, topics: [topic], fetchWaitMaxMillis: 50))
            // Handle 10 of the 50 records: the lag of their partition is 40.
            let handled = try await consumer.records.collect(10)
            for record in handled { try consumer.storeOffset(record) }
            let partition = handled[0].partition
            let clientID = client.clientID
            let lagLine = "kafka_consumer_lag{client=\"\(clientID)\",role=\"consumer\",group=\"\(group)\",topic=\"\(topic)\",partition=\"\(partition)\"} 40"
            #expect(try await eventually(timeout: .seconds(20)) {
                let text = registry.emitToString()
                return text.contains(lagLine) && text.contains("kafka_queue_messages{client=\"\(clientID)\",role=\"producer\"}")
            }, "expected \(lagLine)")
            await consumer.close()
            await producer.close()
        }
    }
}
