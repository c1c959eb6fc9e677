import CRdKafka
import DequeModule
import Foundation
import Logging
import Synchronization

/// A consumer-group member over librdkafka.
///
/// - `records` is an AsyncSequence of consumed records.
/// - At-least-once: nothing is committed until `storeOffset(_:)` was called for a record (after
///   its handler succeeded); stored offsets are committed in batches in the background, before
///   partitions are revoked in a rebalance, and at `close`.
/// - Backpressure: at most `maxBufferedRecords` wait for the handler; past that the assigned
///   partitions are paused, and they resume once half of the buffer drained.
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
        let core = ConsumerCore(maxBuffered: max(1, configuration.maxBufferedRecords), logger: logger)
        let context = KafkaCallbackContext()
        if configuration.client.statisticsIntervalMillis > 0 {
            context.statistics = KafkaStatisticsExporter(role: "consumer", clientID: configuration.client.clientID)
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
        pollLoop = LoopThread(name: "kafka-consumer-poll") { core.pollLoop(pollHandle) }
    }

    /// The consumed records, in order per partition. Ends after `stopDelivery()` or `close()`.
    public var records: KafkaRecordSequence { KafkaRecordSequence(core: core) }

    /// Marks `record` as processed: its offset (+1) will be committed with the next batch.
    public func storeOffset(_ record: KafkaRecord) throws {
        try core.withLiveHandle(handle) { handle in
            let list = rd_kafka_topic_partition_list_new(1)!
            defer { rd_kafka_topic_partition_list_destroy(list) }
            let entry = rd_kafka_topic_partition_list_add(list, record.topic, record.partition)!
            entry.pointee.offset = record.offset + 1
            let error = rd_kafka_offsets_store(handle, list)
            // _STATE / unknown partition: the partition was revoked meanwhile; its new owner
            // gets the record again (at-least-once), so this is not an error for the caller.
            if error != RD_KAFKA_RESP_ERR_NO_ERROR && error != RD_KAFKA_RESP_ERR__STATE
                && error != RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION {
                throw KafkaError.from(error)
            }
        }
    }

    /// Partitions currently assigned to this member.
    public var assignment: Set<KafkaTopicPartition> { core.currentAssignment }

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

/// AsyncSequence of consumed records.
public struct KafkaRecordSequence: AsyncSequence, Sendable {
    public typealias Element = KafkaRecord
    let core: ConsumerCore

    public struct AsyncIterator: AsyncIteratorProtocol {
        let core: ConsumerCore
        public mutating func next() async -> KafkaRecord? { await core.next() }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(core: core) }
}

/// Shared state between the poll thread and the tasks reading records.
final class ConsumerCore: Sendable {
    private struct State {
        var buffer = Deque<KafkaRecord>()
        var waiter: CheckedContinuation<KafkaRecord?, Never>?
        var delivering = true
        var paused = false
        var assignment = Set<KafkaTopicPartition>()
        var handleAlive = true
    }

    private let state = Mutex(State())
    private let shutdownRequested = Atomic<Bool>(false)
    private let maxBuffered: Int
    let logger: Logger

    init(maxBuffered: Int, logger: Logger) {
        self.maxBuffered = maxBuffered
        self.logger = logger
    }

    var paused: Bool { state.withLock { $0.paused } }
    var currentAssignment: Set<KafkaTopicPartition> { state.withLock { $0.assignment } }

    func requestShutdown() { shutdownRequested.store(true, ordering: .releasing) }

    func stopDelivery() {
        let waiter: CheckedContinuation<KafkaRecord?, Never>? = state.withLock { state in
            state.delivering = false
            state.buffer.removeAll()
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Runs `body` with the handle unless it was destroyed; holds the lock so it cannot be.
    func withLiveHandle(_ handle: OpaquePointer, _ body: (OpaquePointer) throws -> Void) throws {
        try state.withLock { state in
            guard state.handleAlive else { throw KafkaError.closed }
            try body(handle)
        }
    }

    func next() async -> KafkaRecord? {
        if let ready = state.withLock({ $0.buffer.popFirst() }) { return ready }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<KafkaRecord?, Never>) in
                let immediate: KafkaRecord?? = state.withLock { state in
                    if let record = state.buffer.popFirst() { return .some(record) }
                    if !state.delivering { return .some(nil) }
                    state.waiter = continuation
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            let waiter: CheckedContinuation<KafkaRecord?, Never>? = state.withLock { state in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(returning: nil)
        }
    }

    // MARK: poll thread

    func pollLoop(_ handle: UncheckedHandle) {
        let rk = handle.pointer
        while !shutdownRequested.load(ordering: .acquiring) {
            if let message = rd_kafka_consumer_poll(rk, 100) {
                deliver(message)
                rd_kafka_message_destroy(message)
            }
            applyBackpressure(rk)
        }
        // Graceful stop: commit what the handlers finished, then leave the group (which runs the
        // revoke callback), then destroy the handle.
        let committed = rd_kafka_commit(rk, nil, 0)
        if committed != RD_KAFKA_RESP_ERR_NO_ERROR && committed != RD_KAFKA_RESP_ERR__NO_OFFSET {
            logger.warning("final commit failed: \(String(cString: rd_kafka_err2str(committed)))")
        }
        rd_kafka_consumer_close(rk)
        state.withLock { state in
            state.handleAlive = false
            rd_kafka_destroy(rk)
        }
    }

    private func deliver(_ message: UnsafeMutablePointer<rd_kafka_message_t>) {
        let m = message.pointee
        guard m.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            if m.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                logger.warning("consumer error: \(String(cString: rd_kafka_message_errstr(message)))")
            }
            return
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
        let record = KafkaRecord(
            topic: String(cString: rd_kafka_topic_name(m.rkt)),
            partition: m.partition,
            offset: m.offset,
            key: m.key.map { Array(UnsafeRawBufferPointer(start: $0, count: m.key_len)) },
            value: m.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: m.len)) } ?? [],
            headers: headers,
            timestampMillis: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : timestamp)
        let waiter: CheckedContinuation<KafkaRecord?, Never>? = state.withLock { state in
            guard state.delivering else { return nil }
            if let waiter = state.waiter {
                state.waiter = nil
                return waiter
            }
            state.buffer.append(record)
            return nil
        }
        waiter?.resume(returning: record)
    }

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
