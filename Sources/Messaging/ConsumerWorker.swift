import Foundation
import Logging
import MarketplaceContracts
import MarketplaceKafka
import ServiceLifecycle

/// A consumer worker as a module declares it: the topics it reads, its consumer group, what it
/// does with each event, and the periodic chores that belong with it (wave timers, sweeps).
/// `ConsumerWorkerService` runs it with the retries, dead letters and graceful shutdown of
/// `KafkaConsumerService`: a module writes none of that.
public struct ConsumerWorker: Sendable {
    public var topics: [Topic]
    /// The group's name without the environment's prefix (`TopicNames.group` adds it).
    public var group: String
    /// How long a fetch may wait for data; lower for latency-sensitive workers.
    public var fetchWaitMaxMillis: Int
    public var chores: [PeriodicChore]
    /// Called once per event, in partition order; throwing retries it (transient failures
    /// without limit), then dead-letters the record.
    public var handle: @Sendable (EventEnvelope) async throws -> Void
    /// Set for a worker that takes each fetched batch at once (`init(...handleBatch:)`).
    public var handleBatch: (@Sendable ([EventEnvelope]) async throws -> Void)?
    /// After a record arrives, how long to keep gathering before the batch is handed over: an
    /// aggregator that writes once per bucket per batch trades this latency for fewer writes.
    public var gatherMillis = 1
    /// How many partitions' records the per-event handler works on at once (each partition in
    /// order): for a handler whose latency, not its CPU, bounds the group's rate.
    public var partitionConcurrency = 1

    /// A worker that gets every fetched batch at once, in partition order: an aggregator writes
    /// once per batch instead of once per event. A record that is not a CloudEvent is
    /// dead-lettered alone.
    public init(topics: [Topic], group: String, fetchWaitMaxMillis: Int = 100, gatherMillis: Int = 1, chores: [PeriodicChore] = [],
                handleBatch: @escaping @Sendable ([EventEnvelope]) async throws -> Void) {
        self.gatherMillis = gatherMillis
        self.topics = topics
        self.group = group
        self.fetchWaitMaxMillis = fetchWaitMaxMillis
        self.chores = chores
        self.handle = { try await handleBatch([$0]) }
        self.handleBatch = handleBatch
    }

    public init(topics: [Topic], group: String, fetchWaitMaxMillis: Int = 100, chores: [PeriodicChore] = [],
                handle: @escaping @Sendable (EventEnvelope) async throws -> Void) {
        self.topics = topics
        self.group = group
        self.fetchWaitMaxMillis = fetchWaitMaxMillis
        self.chores = chores
        self.handle = handle
    }
}

/// Work a worker repeats while it runs; a failure is logged and the next round runs as planned.
public struct PeriodicChore: Sendable {
    public var name: String
    public var interval: Duration
    public var work: @Sendable () async throws -> Void

    public init(_ name: String, every interval: Duration, _ work: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.work = work
    }

    /// Rounds until the task is cancelled or graceful shutdown begins: a round in progress
    /// finishes; only the sleep between rounds is cut short.
    func repeatUntilShutdown(logger: Logger) async {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do { try await work() } catch is CancellationError { break } catch {
                logger.warning("\(name) failed: \(error)")
            }
            await cancelWhenGracefulShutdown { try? await Task.sleep(for: interval) }
        }
    }
}

/// Runs a `ConsumerWorker` in this environment: topics and group get the prefix, undeliverable
/// records go to the environment's dead-letter topic, chores stop at graceful shutdown.
public struct ConsumerWorkerService: Service {
    public let worker: ConsumerWorker
    public let consumer: KafkaConsumerService
    let logger: Logger

    public init(_ worker: ConsumerWorker, kafka: KafkaClientConfiguration, topics: TopicNames, producer: KafkaProducer,
                retry: KafkaConsumerService.RetryPolicy = .init(), logger: Logger) {
        self.worker = worker
        self.logger = logger
        let configuration = KafkaConsumerConfiguration(client: kafka, groupID: topics.group(worker.group), topics: topics.names(worker.topics),
                                                       fetchWaitMaxMillis: worker.fetchWaitMaxMillis, gatherMillis: worker.gatherMillis)
        let handle = worker.handle
        let deadLetter = KafkaConsumerService.DeadLetter(producer: producer, topic: topics.name(.deadLetter))
        if let handleBatch = worker.handleBatch {
            consumer = KafkaConsumerService(configuration: configuration, retry: retry, deadLetter: deadLetter, logger: logger) { records in
                // One record that is not a CloudEvent fails the batch; taken apart, it alone is dead-lettered.
                try await handleBatch(try records.map(CloudEventsKafka.event(from:)))
            }
        } else {
            consumer = KafkaConsumerService(configuration: configuration, retry: retry, deadLetter: deadLetter,
                                            partitionConcurrency: worker.partitionConcurrency, logger: logger) { record in
                // A record that is not a CloudEvent fails here, without retries helping: it is dead-lettered.
                try await handle(try CloudEventsKafka.event(from: record))
            }
        }
    }

    public func run() async throws {
        guard !worker.chores.isEmpty else { return try await consumer.run() }
        let (chores, logger) = (worker.chores, logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for chore in chores {
                group.addTask { await chore.repeatUntilShutdown(logger: logger) }
            }
            // The consumer returns at graceful shutdown, after its in-flight record; the chores
            // are not waited for (a sleeping one is cancelled), the consumer always is.
            try await consumer.run()
            group.cancelAll()
        }
    }
}
