import CRdKafka
import Foundation
import Logging
import Synchronization

/// A consumer-group member over librdkafka.
///
/// - `records` is an AsyncSequence of consumed records.
/// - At-least-once: nothing is committed until `storeOffset(_:)` was called for a record (after
///   its handler succeeded); stored offsets are committed in batches in the background, before
///   partitions are revoked in a rebalance, and at `close`.
/// - Backpressure: at most `maxBufferedRecords` wait for the handler; past that the poll loop
///   stops fetching for up to `pauseAfterMillis`, then pauses the assigned partitions; they resume
///   once half of the buffer drained.
/// - The poll loop runs on a dedicated thread, never on the cooperative pool.
// @unchecked: the handle is a librdkafka rd_kafka_t, which is thread-safe; the rest is Mutex/Atomic.
public final class KafkaConsumer: @unchecked Sendable {
    private let handle: OpaquePointer
    private let core: ConsumerCore
    private let context: KafkaCallbackContext
    private let pollLoop: LoopThread
    public let configuration: KafkaConsumerConfiguration

    public init(configuration: KafkaConsumerConfiguration, logger: Logger = Logger(label: "kafka.consumer")) throws {
        self.configuration = configuration
        let conf = try makeNativeConfiguration(configuration.properties)
        let core = ConsumerCore(maxBuffered: max(1, configuration.maxBufferedRecords),
                                pauseAfter: .milliseconds(configuration.pauseAfterMillis), gather: .milliseconds(configuration.gatherMillis), logger: logger)
        let context = KafkaCallbackContext()
        if configuration.client.statisticsIntervalMillis > 0 {
            context.statistics = KafkaStatisticsExporter(role: "consumer", clientID: configuration.client.clientID, group: configuration.groupID)
        }
        context.rebalance = { handle, error, partitions in core.rebalance(handle, error, partitions) }
        context.install(on: conf)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(RD_KAFKA_CONSUMER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError.configuration(key: "consumer", message: String(cString: errstr))
        }
        rd_kafka_poll_set_consumer(handle)
        let topics = rd_kafka_topic_partition_list_new(Int32(configuration.topics.count))!
        for topic in configuration.topics {
            rd_kafka_topic_partition_list_add(topics, topic, -1)
        }
        let subscribed = rd_kafka_subscribe(handle, topics)
        rd_kafka_topic_partition_list_destroy(topics)
        if subscribed != RD_KAFKA_RESP_ERR_NO_ERROR {
            rd_kafka_destroy(handle)
            throw KafkaError.from(subscribed)
        }
        self.handle = handle
        self.core = core
        self.context = context
        let pollHandle = UncheckedHandle(handle)
        // The loop holds the callback context (librdkafka's callbacks get an unretained pointer).
        pollLoop = LoopThread(name: "kafka-cons-poll") { [context] in
            withExtendedLifetime(context) { core.pollLoop(pollHandle) }
        }
    }

    /// The consumed records, in order per partition. Ends after `stopDelivery()` or `close()`.
    public var records: KafkaRecordSequence { KafkaRecordSequence(core: core) }
    /// The same records as they arrive, a batch at a time (what the poll thread gathered), for
    /// handlers that do one round trip per batch rather than per record.
    public var batches: KafkaBatchSequence { KafkaBatchSequence(core: core) }

    /// Marks `record` as processed: its offset (+1) is handed to librdkafka by the poll thread
    /// and committed with the next batch. Cheap: a dictionary write under a lock.
    public func storeOffset(_ record: KafkaRecord) throws {
        try core.store(KafkaTopicPartition(topic: record.topic, partition: record.partition), next: record.offset + 1)
    }

    /// Partitions currently assigned to this member.
    public var assignment: Set<KafkaTopicPartition> { core.currentAssignment }

    /// How many batches the poll thread handed over, and how many records they held.
    public var handoverStatistics: (batches: Int, records: Int) {
        (core.handovers.load(ordering: .relaxed), core.handedOver.load(ordering: .relaxed))
    }

    /// True once the handle is destroyed (after `close()` returned, always).
    public var isClosed: Bool { core.isClosed }

    /// Whether the consumer paused fetching because the handler fell behind.
    public var isPaused: Bool { core.paused }

    /// Stops handing out records: `records` ends after the one being handled. Records buffered
    /// but not yet handed out are dropped; their offsets were not stored, so they are redelivered.
    public func stopDelivery() { core.stopDelivery() }

    /// Stops delivery, commits the stored offsets, leaves the group and releases the handle.
    public func close() async {
        core.stopDelivery()
        core.requestShutdown()
        await pollLoop.join()
        withExtendedLifetime(context) {}
    }
}

/// AsyncSequence of consumed records. The iterator takes everything buffered at once and hands it
/// out record by record, so the poll thread and the handler meet once per batch, not per record.
public struct KafkaRecordSequence: AsyncSequence, Sendable {
    public typealias Element = KafkaRecord
    let core: ConsumerCore

    public struct AsyncIterator: AsyncIteratorProtocol {
        let core: ConsumerCore
        var batch: [KafkaRecord] = []
        var index = 0

        public mutating func next() async -> KafkaRecord? {
            guard core.isDelivering else { return nil }
            if index == batch.count {
                // The spent batch goes back to the poll thread, which allocated its records and
                // frees them there (see ConsumerCore.recycle).
                if !batch.isEmpty { core.recycle(batch); batch = [] }
                guard let next = await core.takeBatch() else { return nil }
                batch = next
                index = 0
            }
            defer { index += 1 }
            return batch[index]
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(core: core) }
}

/// AsyncSequence of consumed records, everything buffered at once (never empty).
public struct KafkaBatchSequence: AsyncSequence, Sendable {
    public typealias Element = [KafkaRecord]
    let core: ConsumerCore

    public struct AsyncIterator: AsyncIteratorProtocol {
        let core: ConsumerCore
        /// The batch handed out last: by the next call the handler is done with it, and it goes
        /// back to the poll thread to be freed (see ConsumerCore.recycle).
        var previous: [KafkaRecord] = []

        public mutating func next() async -> [KafkaRecord]? {
            if !previous.isEmpty { core.recycle(previous); previous = [] }
            guard core.isDelivering else { return nil }
            let batch = await core.takeBatch()
            previous = batch ?? []
            return batch
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(core: core) }
}

/// Shared state between the poll thread and the tasks reading records.
final class ConsumerCore: Sendable {
    private struct State {
        var buffer: [KafkaRecord] = []
        var waiter: CheckedContinuation<[KafkaRecord]?, Never>?
        var delivering = true
        var paused = false
        var assignment = Set<KafkaTopicPartition>()
        var handleAlive = true
    }

    private let state = Mutex(State())
    var isClosed: Bool { !state.withLock { $0.handleAlive } }
    /// Batches the handler is done with, freed by the poll thread.
    private let spent = Mutex<[[KafkaRecord]]>([])
    /// Offsets stored by handlers, handed to librdkafka by the poll thread.
    private let pendingOffsets = Mutex<[KafkaTopicPartition: Int64]>([:])
    private let delivering = Atomic<Bool>(true)
    private let closedForStores = Atomic<Bool>(false)
    /// Hand-overs from the poll thread and the records they carried (for tuning and benchmarks).
    let handovers = Atomic<Int>(0)
    let handedOver = Atomic<Int>(0)
    private let shutdownRequested = Atomic<Bool>(false)
    private let maxBuffered: Int
    private let pauseAfter: Duration
    private let gather: Duration
    let logger: Logger

    init(maxBuffered: Int, pauseAfter: Duration, gather: Duration, logger: Logger) {
        self.maxBuffered = maxBuffered
        self.pauseAfter = pauseAfter
        self.gather = gather
        self.logger = logger
    }

    var paused: Bool { state.withLock { $0.paused } }
    var currentAssignment: Set<KafkaTopicPartition> { state.withLock { $0.assignment } }

    func requestShutdown() { shutdownRequested.store(true, ordering: .releasing) }

    var isDelivering: Bool { delivering.load(ordering: .acquiring) }

    func stopDelivery() {
        delivering.store(false, ordering: .releasing)
        let waiter: CheckedContinuation<[KafkaRecord]?, Never>? = state.withLock { state in
            state.delivering = false
            state.buffer.removeAll()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    func store(_ partition: KafkaTopicPartition, next offset: Int64) throws {
        guard !closedForStores.load(ordering: .relaxed) else { throw KafkaError.closed }
        pendingOffsets.withLock { pending in
            Self.raise(&pending[partition, default: -1], to: offset)  // one hash lookup, in place
        }
    }

    private static func raise(_ stored: inout Int64, to offset: Int64) {
        if stored < offset { stored = offset }
    }

    /// Takes a batch the handler is done with, so that its records are freed on the poll thread
    /// that allocated them: freed on the handler's thread, every key and value took the poll
    /// thread's malloc arena lock (glibc's per-thread cache fills at once on the freeing side),
    /// which was a fifth of the handler's time (issue 16, docs/benchmarks.md).
    func recycle(_ batch: [KafkaRecord]) {
        spent.withLock { $0.append(batch) }
    }

    /// Everything buffered, or waits for the next records; nil once delivery stopped.
    func takeBatch() async -> [KafkaRecord]? {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<[KafkaRecord]?, Never>) in
                let immediate: [KafkaRecord]?? = state.withLock { state in
                    // A cancellation that came before the waiter was registered finds none to resume.
                    if !state.delivering || Task.isCancelled { return .some(nil) }
                    if !state.buffer.isEmpty {
                        defer { state.buffer.removeAll(keepingCapacity: true) }
                        return .some(state.buffer)
                    }
                    state.waiter = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<[KafkaRecord]?, Never>? = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    // MARK: poll thread

    /// The most records one hand-over carries.
    static let maxBatch = 1024

    func pollLoop(_ handle: UncheckedHandle) {
        let rk = handle.pointer
        var topicNames = TopicNameCache()
        var batch: [KafkaRecord] = []
        // What is already queued comes out of the consumer queue in one call (one lock, one clock
        // read), not one rd_kafka_consumer_poll per message: the poll thread was the consumer's
        // bottleneck (issue 16). Rebalance callbacks are served from the same queue either way.
        let queue = rd_kafka_queue_get_consumer(rk)!
        let slots = UnsafeMutablePointer<UnsafeMutablePointer<rd_kafka_message_t>?>.allocate(capacity: Self.maxBatch)
        defer { slots.deallocate() }
        while !shutdownRequested.load(ordering: .acquiring) {
            // Wait for the first record, then gather what follows for up to `gather` (or 1024
            // records): handing records over one by one would wake the handler's task per record.
            var message = rd_kafka_consumer_poll(rk, 100)
            let firstArrival = ContinuousClock.now
            while let current = message {
                if let record = Self.record(from: current, topicNames: &topicNames, logger: logger) { batch.append(record) }
                rd_kafka_message_destroy(current)
                message = nil
                while batch.count < Self.maxBatch {
                    let taken = rd_kafka_consume_batch_queue(queue, 0, slots, Self.maxBatch - batch.count)
                    guard taken > 0 else { break }
                    for index in 0..<taken {
                        guard let queued = slots[index] else { continue }
                        if let record = Self.record(from: queued, topicNames: &topicNames, logger: logger) { batch.append(record) }
                        rd_kafka_message_destroy(queued)
                    }
                }
                if batch.count < Self.maxBatch && gather > .zero && ContinuousClock.now - firstArrival < gather {
                    message = rd_kafka_consumer_poll(rk, 1)
                }
            }
            if !batch.isEmpty {
                deliver(batch)
                batch.removeAll(keepingCapacity: true)
            }
            flushStoredOffsets(rk)
            freeSpentBatches()
            waitWhileBehind()
            applyBackpressure(rk)
        }
        // Graceful stop: commit what the handlers finished, then leave the group (which runs the
        // revoke callback), then destroy the handle.
        flushStoredOffsets(rk)
        let committed = rd_kafka_commit(rk, nil, 0)
        if committed != RD_KAFKA_RESP_ERR_NO_ERROR && committed != RD_KAFKA_RESP_ERR__NO_OFFSET {
            logger.warning("final commit failed: \(String(cString: rd_kafka_err2str(committed)))")
        }
        rd_kafka_queue_destroy(queue)
        rd_kafka_consumer_close(rk)
        closedForStores.store(true, ordering: .releasing)
        state.withLock { $0.handleAlive = false }
        rd_kafka_destroy(rk)
    }

    /// Drops the batches handlers gave back (poll thread): their records are freed here.
    private func freeSpentBatches() {
        var batches = spent.withLock { spent -> [[KafkaRecord]] in
            defer { spent.removeAll(keepingCapacity: true) }
            return spent
        }
        batches.removeAll()
    }

    /// Hands the offsets stored since the last call to librdkafka (poll thread).
    private func flushStoredOffsets(_ rk: OpaquePointer) {
        let pending = pendingOffsets.withLock { pending -> [KafkaTopicPartition: Int64] in
            defer { pending.removeAll(keepingCapacity: true) }
            return pending
        }
        guard !pending.isEmpty else { return }
        let list = rd_kafka_topic_partition_list_new(Int32(pending.count))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (partition, offset) in pending {
            rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!.pointee.offset = offset
        }
        // _STATE / unknown partition: revoked meanwhile; its new owner gets the records again.
        let error = rd_kafka_offsets_store(rk, list)
        if error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR__STATE && error != RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION {
            logger.warning("offset store failed: \(String(cString: rd_kafka_err2str(error)))")
        }
    }

    private static func record(from message: UnsafeMutablePointer<rd_kafka_message_t>, topicNames: inout TopicNameCache, logger: Logger) -> KafkaRecord? {
        let m = message.pointee
        guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                logger.warning("consumer error: \(String(cString: rd_kafka_message_errstr(message)))")
            }
            return nil
        }
        var headers: [KafkaHeader] = []
        var native: OpaquePointer?
        if rd_kafka_message_headers(message, &native) == RD_KAFKA_RESP_ERR_NO_ERROR, let native {
            var index = 0
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            while rd_kafka_header_get_all(native, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR {
                let bytes = value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) } ?? []
                headers.append(KafkaHeader(name: String(cString: name!), value: bytes))
                index += 1
            }
        }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(message, &timestampType)
        let topic = topicNames.name(of: m.rkt)
        return KafkaRecord(
            topic: topic,
            partition: m.partition,
            offset: m.offset,
            key: m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) },
            value: m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? [],
            headers: headers,
            timestampMillis: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp)
    }

    private func deliver(_ records: [KafkaRecord]) {
        handovers.add(1, ordering: .relaxed)
        handedOver.add(records.count, ordering: .relaxed)
        let waiter: CheckedContinuation<[KafkaRecord]?, Never>? = state.withLock { state in
            guard state.delivering else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffer.append(contentsOf: records)
            return nil
        }
        waiter?.resume(returning: records)
    }

    /// A full buffer first just stops polling: librdkafka's own fetch queue is bounded, so fetching
    /// stops by itself and resumes without refetching. Only when the handler stays behind for
    /// `pauseAfter` are the partitions paused (which drops prefetched data but lets the poll loop
    /// serve rebalances and stay within max.poll.interval.ms).
    private func waitWhileBehind() {
        guard !paused, bufferedCount >= maxBuffered else { return }
        let deadline = ContinuousClock.now + pauseAfter
        while bufferedCount > maxBuffered / 2, ContinuousClock.now < deadline, !shutdownRequested.load(ordering: .acquiring) {
            usleep(500)
        }
    }

    private var bufferedCount: Int { state.withLock { $0.buffer.count } }

    private func applyBackpressure(_ rk: OpaquePointer) {
        let action: Bool? = state.withLock { state in
            if !state.paused && state.buffer.count >= maxBuffered { state.paused = true; return true }
            if state.paused && state.buffer.count <= maxBuffered / 2 { state.paused = false; return false }
            return nil
        }
        guard let pause = action else { return }
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(rk, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        if pause {
            rd_kafka_pause_partitions(rk, list)
            logger.debug("paused \(list.pointee.cnt) partitions: handler behind")
        } else {
            rd_kafka_resume_partitions(rk, list)
            logger.debug("resumed \(list.pointee.cnt) partitions")
        }
    }

    /// librdkafka's rebalance callback (poll thread).
    func rebalance(_ rk: OpaquePointer, _ error: rd_kafka_resp_err_t, _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        let changed = Set((0..<Int(partitions.pointee.cnt)).map { index in
            let entry = partitions.pointee.elems[index]
            return KafkaTopicPartition(topic: String(cString: entry.topic), partition: entry.partition)
        })
        switch error {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                if let failure = rd_kafka_incremental_assign(rk, partitions) { logger.error("assign: \(KafkaError.consume(failure))") }
            } else {
                rd_kafka_assign(rk, partitions)
            }
            let pausedNow = state.withLock { state in
                if cooperative { state.assignment.formUnion(changed) } else { state.assignment = changed }
                return state.paused
            }
            if pausedNow { rd_kafka_pause_partitions(rk, partitions) }
            logger.info("assigned \(changed.sorted { $0.description < $1.description })")
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            // Commit what was handled before the partitions move to another member.
            flushStoredOffsets(rk)
            let committed = rd_kafka_commit(rk, nil, 0)
            if committed != RD_KAFKA_RESP_ERR_NO_ERROR && committed != RD_KAFKA_RESP_ERR__NO_OFFSET {
                logger.warning("commit before revoke failed: \(String(cString: rd_kafka_err2str(committed)))")
            }
            state.withLock { state in
                state.assignment.subtract(changed)
                // Buffered records of revoked partitions belong to their next owner now.
                state.buffer.removeAll { changed.contains(KafkaTopicPartition(topic: $0.topic, partition: $0.partition)) }
            }
            if cooperative {
                if let failure = rd_kafka_incremental_unassign(rk, partitions) { logger.error("unassign: \(KafkaError.consume(failure))") }
            } else {
                rd_kafka_assign(rk, nil)
            }
            logger.info("revoked \(changed.sorted { $0.description < $1.description })")
        default:
            logger.error("rebalance error: \(String(cString: rd_kafka_err2str(error)))")
            state.withLock { $0.assignment.removeAll() }
            rd_kafka_assign(rk, nil)
        }
    }
}

/// Topic names by librdkafka topic handle (poll thread). Records come in runs of one partition,
/// so the last handle answers almost every lookup without hashing (hashing the handle for every
/// record was a fifth of the poll thread's time).
struct TopicNameCache {
    private var last: (handle: OpaquePointer, name: String)?
    private var names: [OpaquePointer: String] = [:]

    mutating func name(of handle: OpaquePointer?) -> String {
        guard let handle else { return "" }
        if let last, last.handle == handle { return last.name }
        let name = names[handle] ?? String(cString: rd_kafka_topic_name(handle))
        names[handle] = name
        last = (handle, name)
        return name
    }
}
