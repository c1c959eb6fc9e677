import Foundation
import Logging
import MarketplaceContracts
import MarketplaceKafka
import Metrics
import ServiceLifecycle

/// A consumer-group worker as a ServiceLifecycle service.
///
/// Each record goes to `handler`; its offset is stored only after the handler succeeded
/// (at-least-once). A failing handler is retried with exponential backoff; after the last attempt
/// the record goes to the dead-letter topic (with `dlq_*` headers saying where it came from and
/// why) and the consumer moves on. Without a dead-letter topic the service fails instead of
/// skipping the record, so nothing is lost silently.
///
/// With `partitionConcurrency` above 1, the records of a fetched batch are handled by partition
/// in parallel (up to that many partitions at once), each partition's in order; the batch's
/// offsets are stored when all of it is done. A handler that does several round trips per record
/// (the notifications planner) otherwise runs at one round trip's latency for the whole group.
///
/// Graceful shutdown: stop taking records, let the ones in flight finish, commit, leave the group.
public struct KafkaConsumerService: Service {
    public struct RetryPolicy: Sendable {
        public var maxAttempts: Int
        public var initialBackoff: Duration
        public var maxBackoff: Duration

        public init(maxAttempts: Int = 5, initialBackoff: Duration = .milliseconds(100), maxBackoff: Duration = .seconds(5)) {
            self.maxAttempts = max(1, maxAttempts)
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }
    }

    public struct DeadLetter: Sendable {
        public var producer: KafkaProducer
        public var topic: String
        public init(producer: KafkaProducer, topic: String) {
            self.producer = producer
            self.topic = topic
        }
    }

    public let configuration: KafkaConsumerConfiguration
    public let retry: RetryPolicy
    public let deadLetter: DeadLetter?
    public let logger: Logger
    let handler: @Sendable (KafkaRecord) async throws -> Void
    /// Set in batch mode: the records the poll thread handed over together, in partition order.
    let batchHandler: (@Sendable ([KafkaRecord]) async throws -> Void)?
    /// How many partitions' records are handled at once (record mode); 1 = one record at a time.
    public let partitionConcurrency: Int

    public init(configuration: KafkaConsumerConfiguration, retry: RetryPolicy = .init(), deadLetter: DeadLetter? = nil,
                partitionConcurrency: Int = 1,
                logger: Logger = Logger(label: "kafka.consumer.service"), handler: @escaping @Sendable (KafkaRecord) async throws -> Void) {
        self.configuration = configuration
        self.retry = retry
        self.deadLetter = deadLetter
        self.logger = logger
        self.handler = handler
        self.batchHandler = nil
        self.partitionConcurrency = max(1, partitionConcurrency)
    }

    /// Batch mode: `handler` gets each fetched batch at once (an aggregator writes once per
    /// batch). A batch that keeps failing for a reason other than a transient one is taken apart:
    /// each record alone, so that only the record at fault is dead-lettered.
    public init(configuration: KafkaConsumerConfiguration, retry: RetryPolicy = .init(), deadLetter: DeadLetter? = nil,
                logger: Logger = Logger(label: "kafka.consumer.service"), batchHandler: @escaping @Sendable ([KafkaRecord]) async throws -> Void) {
        self.configuration = configuration
        self.retry = retry
        self.deadLetter = deadLetter
        self.logger = logger
        self.handler = { try await batchHandler([$0]) }
        self.batchHandler = batchHandler
        self.partitionConcurrency = 1
    }

    public func run() async throws {
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        let handled = Counter(label: "kafka_records_handled_total", dimensions: [("group", configuration.groupID)])
        let deadLettered = Counter(label: "kafka_records_dead_lettered_total", dimensions: [("group", configuration.groupID)])
        do {
            try await withGracefulShutdownHandler {
                if let batchHandler {
                    for await batch in consumer.batches where !batch.isEmpty {
                        if try await handleBatchWithRetries(batch, batchHandler) {
                            handled.increment(by: batch.count)
                        } else {
                            for record in batch {
                                if try await handleWithRetries(record) { handled.increment() } else { deadLettered.increment() }
                            }
                        }
                        for record in batch { try consumer.storeOffset(record) }
                    }
                } else if partitionConcurrency > 1 {
                    for await batch in consumer.batches where !batch.isEmpty {
                        let (done, dead) = try await handleByPartition(batch)
                        handled.increment(by: done)
                        deadLettered.increment(by: dead)
                        for record in batch { try consumer.storeOffset(record) }
                    }
                } else {
                    for await record in consumer.records {
                        if try await handleWithRetries(record) { handled.increment() } else { deadLettered.increment() }
                        try consumer.storeOffset(record)
                    }
                }
            } onGracefulShutdown: {
                consumer.stopDelivery()
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    /// true when the batch was handled; false when it failed `maxAttempts` times for a reason
    /// that is not transient (then its records are handled one by one).
    private func handleBatchWithRetries(_ batch: [KafkaRecord], _ handle: @Sendable ([KafkaRecord]) async throws -> Void) async throws -> Bool {
        var backoff = retry.initialBackoff
        var attempt = 1
        while true {
            do {
                try await handle(batch)
                return true
            } catch {
                // Cut off (the process is stopping): not a failure of the batch; its offsets are
                // not stored, so it comes again. Counting it as one could dead-letter it.
                if error is CancellationError || Task.isCancelled { throw error }
                let transient = error.isTransientFailure
                logger.warning("batch handler failed", metadata: ["records": "\(batch.count)", "attempt": "\(attempt)",
                                                                  "transient": "\(transient)", "error": "\(error)"])
                if !transient { attempt += 1 }
                guard attempt <= retry.maxAttempts else { return false }
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, retry.maxBackoff)
            }
        }
    }

    private struct Partition: Hashable { var topic: String; var partition: Int32 }

    /// The batch's records by partition, up to `partitionConcurrency` partitions at once, each
    /// partition's records in their order; (handled, dead-lettered). Throws when a record could be
    /// neither handled nor dead-lettered (the other partitions' tasks are cancelled; no offset of
    /// the batch is stored, so all of it comes again).
    private func handleByPartition(_ batch: [KafkaRecord]) async throws -> (Int, Int) {
        // Dictionary(grouping:) keeps each group's elements in the order they came.
        let partitions = Array(Dictionary(grouping: batch) { Partition(topic: $0.topic, partition: $0.partition) }.values)
        return try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            var next = 0, handled = 0, dead = 0
            func startNext() {
                guard next < partitions.count else { return }
                let records = partitions[next]
                next += 1
                group.addTask {
                    var handled = 0, dead = 0
                    for record in records {
                        if try await handleWithRetries(record) { handled += 1 } else { dead += 1 }
                    }
                    return (handled, dead)
                }
            }
            for _ in 0..<partitionConcurrency { startNext() }
            while let result = try await group.next() {
                handled += result.0
                dead += result.1
                startNext()
            }
            return (handled, dead)
        }
    }

    /// true when handled, false when dead-lettered; throws when neither was possible.
    private func handleWithRetries(_ record: KafkaRecord) async throws -> Bool {
        var backoff = retry.initialBackoff
        var lastError: Error?
        var attempt = 1
        while attempt <= retry.maxAttempts {
            do {
                try await handler(record)
                return true
            } catch {
                if error is CancellationError || Task.isCancelled { throw error }  // as for batches: it comes again
                lastError = error
                // A transient failure (a write conflict, a database or Redis outage) says nothing
                // about the record: it is retried for as long as it takes, never dead-lettered.
                let transient = error.isTransientFailure
                logger.warning("handler failed", metadata: [
                    "topic": "\(record.topic)", "partition": "\(record.partition)", "offset": "\(record.offset)",
                    "attempt": "\(attempt)", "transient": "\(transient)", "error": "\(error)"])
                if !transient { attempt += 1 }
                if attempt <= retry.maxAttempts {
                    try await Task.sleep(for: backoff)
                    backoff = min(backoff * 2, retry.maxBackoff)
                }
            }
        }
        guard let deadLetter else { throw lastError! }
        var headers = record.headers
        headers.append(KafkaHeader(name: "dlq_topic", value: record.topic))
        headers.append(KafkaHeader(name: "dlq_partition", value: String(record.partition)))
        headers.append(KafkaHeader(name: "dlq_offset", value: String(record.offset)))
        headers.append(KafkaHeader(name: "dlq_group", value: configuration.groupID))
        headers.append(KafkaHeader(name: "dlq_error", value: String(describing: lastError!).prefix(1000).description))
        try await deadLetter.producer.send(KafkaOutgoingMessage(topic: deadLetter.topic, key: record.key, value: record.value, headers: headers))
        return false
    }
}
