import CRdKafka
import Foundation
import Logging
import Synchronization

/// A librdkafka producer.
///
/// - `send` returns once the broker acknowledged the record (acks=all, idempotent) and throws
///   `KafkaError.delivery` when it did not.
/// - `sendBatch` is the high-rate path: every record of the batch is handed to librdkafka at once
///   and one continuation waits for all their delivery reports.
/// - Delivery reports are served by a poll loop on a dedicated thread.
/// - `close` flushes whatever is still queued, then releases the handle.
// @unchecked: the handle is a librdkafka rd_kafka_t, which is thread-safe; the rest is Mutex/Atomic.
public final class KafkaProducer: @unchecked Sendable {
    private let handle: OpaquePointer
    private let running = AtomicFlag(true)
    private let closed = Mutex<Bool>(false)
    private let pollLoop: LoopThread
    private let context: KafkaCallbackContext
    public let logger: Logger

    public init(configuration: KafkaProducerConfiguration, logger: Logger = Logger(label: "kafka.producer")) throws {
        let conf = try makeNativeConfiguration(configuration.properties)
        rd_kafka_conf_set_dr_msg_cb(conf, deliveryReportCallback)
        let context = KafkaCallbackContext()
        if configuration.client.statisticsIntervalMillis > 0 {
            context.statistics = KafkaStatisticsExporter(role: "producer", clientID: configuration.client.clientID)
        }
        context.install(on: conf)
        var errstr = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError.configuration(key: "producer", message: String(cString: errstr))
        }
        self.handle = handle
        self.context = context
        self.logger = logger
        let running = self.running
        let pollHandle = UncheckedHandle(handle)
        // The loop holds the callback context: librdkafka calls back (statistics) from
        // rd_kafka_poll with an unretained pointer to it, so it must live as long as the loop,
        // even for a producer dropped without `close` (which would otherwise leave the loop
        // polling with a dangling context: a crash at the next statistics callback).
        pollLoop = LoopThread(name: "kafka-prod-poll") { [running, context] in
            withExtendedLifetime(context) {
                while running.isSet {
                    rd_kafka_poll(pollHandle.pointer, 100)
                }
            }
        }
    }

    /// Produces one record and waits for the broker's acknowledgement.
    @discardableResult
    public func send(_ message: KafkaOutgoingMessage) async throws -> KafkaDeliveryReport {
        let outcome = OneShot<KafkaDeliveryReport>()
        let completion = DeliveryCompletion { result in outcome.complete(result.mapError { $0 }) }
        await enqueueRetrying(message, completion: completion)
        return try await outcome.value()
    }

    /// Produces many records and waits once for all their delivery reports;
    /// throws the first delivery error after every report arrived.
    public func sendBatch(_ messages: [KafkaOutgoingMessage]) async throws {
        guard !messages.isEmpty else { return }
        let outcome = OneShot<Void>()
        let tracker = BatchTracker(expected: messages.count) { error in
            outcome.complete(error.map { .failure($0) } ?? .success(()))
        }
        let completion = DeliveryCompletion(reportsTopic: false) { result in tracker.report(result) }
        for message in messages {
            await enqueueRetrying(message, completion: completion)
        }
        try await outcome.value()
    }

    /// Waits until every queued record was delivered (or failed), up to `timeout`.
    public func flush(timeout: Duration = .seconds(30)) async throws {
        let handle = UncheckedHandle(self.handle)
        let millis = Int32(timeout.components.seconds * 1000)
        let result = try await onDedicatedThread("kafka-flush") { rd_kafka_flush(handle.pointer, millis) }
        if result != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError.timedOut("flush: \(rd_kafka_outq_len(self.handle)) records still queued") }
    }

    /// A producer dropped without `close` stops its poll loop (nothing calls back after that);
    /// its handle is not destroyed here, as destroying blocks: call `close`.
    deinit { running.clear() }

    /// Flushes, stops the poll loop and destroys the handle. Safe to call more than once.
    public func close(timeout: Duration = .seconds(30)) async {
        guard closed.withLock({ let was = $0; $0 = true; return !was }) else { return }
        do { try await flush(timeout: timeout) } catch { logger.error("producer close: \(error)") }
        running.clear()
        await pollLoop.join()
        let handle = UncheckedHandle(self.handle)
        _ = try? await onDedicatedThread("kafka-destroy") { rd_kafka_destroy(handle.pointer) }
    }

    /// Number of records waiting in librdkafka's queue (for readiness and metrics).
    public var queueLength: Int { Int(rd_kafka_outq_len(handle)) }

    // MARK: producing

    private func enqueueRetrying(_ message: KafkaOutgoingMessage, completion: DeliveryCompletion) async {
        let opaque = Unmanaged.passRetained(completion).toOpaque()
        while true {
            // The lock keeps `close` from destroying the handle while a record is handed over.
            let code: rd_kafka_resp_err_t? = closed.withLock { closed in
                closed ? nil : enqueue(message, opaque: opaque)
            }
            if code == RD_KAFKA_RESP_ERR_NO_ERROR { return }
            if code == RD_KAFKA_RESP_ERR__QUEUE_FULL {
                // librdkafka's queue is full: let delivery reports drain it.
                try? await Task.sleep(for: .milliseconds(1))
                continue
            }
            Unmanaged<DeliveryCompletion>.fromOpaque(opaque).release()
            completion.complete(.failure(code.map { KafkaError.from($0, delivery: true) } ?? .closed))
            return
        }
    }

    /// Hands one record to librdkafka (copying key, value and headers).
    private func enqueue(_ message: KafkaOutgoingMessage, opaque: UnsafeMutableRawPointer) -> rd_kafka_resp_err_t {
        var headers: OpaquePointer? = nil
        if !message.headers.isEmpty {
            headers = rd_kafka_headers_new(message.headers.count)
            for header in message.headers {
                header.value.withUnsafeBytes { bytes in
                    _ = rd_kafka_header_add(headers, header.name, -1, bytes.baseAddress, bytes.count)
                }
            }
        }
        let key = message.key ?? []
        let hasKey = message.key != nil
        return message.topic.withCString { topic in
            message.value.withUnsafeBytes { value in
                key.withUnsafeBytes { keyBytes in
                    var args = [rd_kafka_vu_t](repeating: rd_kafka_vu_t(), count: 7)
                    args[0].vtype = RD_KAFKA_VTYPE_TOPIC
                    args[0].u.cstr = topic
                    args[1].vtype = RD_KAFKA_VTYPE_VALUE
                    args[1].u.mem.ptr = UnsafeMutableRawPointer(mutating: value.baseAddress)
                    args[1].u.mem.size = value.count
                    args[2].vtype = RD_KAFKA_VTYPE_MSGFLAGS
                    args[2].u.i = RD_KAFKA_MSG_F_COPY
                    args[3].vtype = RD_KAFKA_VTYPE_OPAQUE
                    args[3].u.ptr = opaque
                    args[4].vtype = RD_KAFKA_VTYPE_PARTITION
                    args[4].u.i32 = message.partition ?? -1
                    var count = 5
                    if hasKey {
                        args[count].vtype = RD_KAFKA_VTYPE_KEY
                        args[count].u.mem.ptr = UnsafeMutableRawPointer(mutating: keyBytes.baseAddress)
                        args[count].u.mem.size = keyBytes.count
                        count += 1
                    }
                    if let headers {
                        args[count].vtype = RD_KAFKA_VTYPE_HEADERS
                        args[count].u.headers = headers
                        count += 1
                    }
                    guard let error = rd_kafka_produceva(handle, &args, count) else { return RD_KAFKA_RESP_ERR_NO_ERROR }
                    let code = rd_kafka_error_code(error)
                    rd_kafka_error_destroy(error)
                    if let headers { rd_kafka_headers_destroy(headers) }  // not taken over on failure
                    return code
                }
            }
        }
    }
}

/// A result delivered once, from any thread, to one awaiting task.
final class OneShot<Value: Sendable>: Sendable {
    private struct State { var result: Result<Value, Error>?; var waiter: CheckedContinuation<Value, Error>? }
    private let state = Mutex(State())

    func complete(_ result: Result<Value, Error>) {
        let waiter: CheckedContinuation<Value, Error>? = state.withLock { state in
            guard state.result == nil else { return nil }
            state.result = result
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(with: result)
    }

    func value() async throws -> Value {
        try await withCheckedThrowingContinuation { continuation in
            let ready: Result<Value, Error>? = state.withLock { state in
                if let result = state.result { return result }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(with: ready) }
        }
    }
}

/// A raw librdkafka handle passed to the poll thread. librdkafka handles are thread-safe.
struct UncheckedHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    init(_ pointer: OpaquePointer) { self.pointer = pointer }
}

/// The per-record opaque librdkafka hands back in the delivery report.
final class DeliveryCompletion: @unchecked Sendable {
    let reportsTopic: Bool
    private let callback: @Sendable (Result<KafkaDeliveryReport, KafkaError>) -> Void

    init(reportsTopic: Bool = true, _ callback: @escaping @Sendable (Result<KafkaDeliveryReport, KafkaError>) -> Void) {
        self.reportsTopic = reportsTopic
        self.callback = callback
    }

    func complete(_ result: Result<KafkaDeliveryReport, KafkaError>) { callback(result) }
}

/// Counts the delivery reports of one batch and completes once all arrived.
final class BatchTracker: Sendable {
    private struct State { var remaining: Int; var firstError: KafkaError? }
    private let state: Mutex<State>
    private let done: @Sendable (KafkaError?) -> Void

    init(expected: Int, done: @escaping @Sendable (KafkaError?) -> Void) {
        state = Mutex(State(remaining: expected))
        self.done = done
    }

    func report(_ result: Result<KafkaDeliveryReport, KafkaError>) {
        let finished: (Bool, KafkaError?) = state.withLock { state in
            if case .failure(let error) = result, state.firstError == nil { state.firstError = error }
            state.remaining -= 1
            return (state.remaining == 0, state.firstError)
        }
        if finished.0 { done(finished.1) }
    }
}

/// Called by librdkafka on the poll thread, once per record.
private let deliveryReportCallback: @convention(c) (OpaquePointer?, UnsafePointer<rd_kafka_message_t>?, UnsafeMutableRawPointer?) -> Void = { _, message, _ in
    guard let message, let opaque = message.pointee._private else { return }
    let completion = Unmanaged<DeliveryCompletion>.fromOpaque(opaque).takeRetainedValue()
    let err = message.pointee.err
    if err == RD_KAFKA_RESP_ERR_NO_ERROR {
        let topic = completion.reportsTopic ? String(cString: rd_kafka_topic_name(message.pointee.rkt)) : ""
        completion.complete(.success(KafkaDeliveryReport(topic: topic, partition: message.pointee.partition, offset: message.pointee.offset)))
    } else {
        completion.complete(.failure(KafkaError.from(err, delivery: true)))
    }
}
