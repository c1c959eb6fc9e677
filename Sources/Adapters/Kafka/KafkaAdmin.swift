import CRdKafka
import Foundation

/// What the broker says about one topic.
public struct KafkaTopicDescription: Sendable, Hashable {
    public var name: String
    public var partitions: Int
}

/// Topic administration (create, grow, delete, list). Every call blocks inside librdkafka, so each
/// runs on a dedicated thread.
public final class KafkaAdmin: Sendable {
    private let handle: UncheckedHandle
    private let timeoutMillis: Int32

    public init(configuration: KafkaClientConfiguration, timeout: Duration = .seconds(15)) throws {
        let conf = try makeNativeConfiguration(configuration.baseProperties + configuration.properties.map { ($0.key, $0.value) })
        var errstr = [CChar](repeating: 0, count: 512)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError.configuration(key: "admin", message: String(cString: errstr))
        }
        handle = UncheckedHandle(rk)
        timeoutMillis = Int32(timeout.components.seconds * 1000)
    }

    deinit { rd_kafka_destroy(handle.pointer) }

    /// Every topic the cluster knows, with its partition count (internal topics left out).
    public func listTopics() async throws -> [KafkaTopicDescription] {
        let handle = self.handle, timeout = self.timeoutMillis
        return try await onDedicatedThread("kafka-admin") {
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let error = rd_kafka_metadata(handle.pointer, 1, nil, &metadata, timeout)
            guard error == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { throw KafkaError.from(error) }
            defer { rd_kafka_metadata_destroy(metadata) }
            return (0..<Int(metadata.pointee.topic_cnt)).compactMap { index in
                let topic = metadata.pointee.topics[index]
                let name = String(cString: topic.topic)
                guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR, !name.hasPrefix("__") else { return nil }
                return KafkaTopicDescription(name: name, partitions: Int(topic.partition_cnt))
            }.sorted { $0.name < $1.name }
        }
    }

    /// Creates a topic. Throws `KafkaError.topic` (code 36, TOPIC_ALREADY_EXISTS) if it exists.
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 1, configs: [String: String] = [:]) async throws {
        let handle = self.handle, timeout = self.timeoutMillis
        try await onDedicatedThread("kafka-admin") {
            var errstr = [CChar](repeating: 0, count: 512)
            guard let newTopic = rd_kafka_NewTopic_new(name, Int32(partitions), Int32(replicationFactor), &errstr, errstr.count) else {
                throw KafkaError.topic(name: name, code: -1, message: String(cString: errstr))
            }
            defer { rd_kafka_NewTopic_destroy(newTopic) }
            for (key, value) in configs.sorted(by: { $0.key < $1.key }) {
                rd_kafka_NewTopic_set_config(newTopic, key, value)
            }
            try Self.runAdmin(handle.pointer, RD_KAFKA_ADMIN_OP_CREATETOPICS, timeout) { options, queue in
                var topics: [OpaquePointer?] = [newTopic]
                rd_kafka_CreateTopics(handle.pointer, &topics, 1, options, queue)
            } results: { event in
                var count = 0
                let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count)
                return (results, count)
            }
        }
    }

    /// Creates the topic unless it exists. A request that timed out (a busy broker's controller) is
    /// sent again, up to `attempts` times; "already exists" on a retry means the first one worked.
    public func ensureTopic(_ name: String, partitions: Int, replicationFactor: Int = 1, configs: [String: String] = [:], attempts: Int = 3) async throws {
        var attempt = 1
        while true {
            do {
                try await createTopic(name, partitions: partitions, replicationFactor: replicationFactor, configs: configs)
                return
            } catch let error as KafkaError where error.isTopicAlreadyExists {
                return
            } catch let error as KafkaError where error.isTimeout && attempt < attempts {
                attempt += 1
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }

    /// Grows a topic to `totalPartitions` (Kafka cannot shrink a topic).
    public func createPartitions(_ name: String, totalPartitions: Int) async throws {
        let handle = self.handle, timeout = self.timeoutMillis
        try await onDedicatedThread("kafka-admin") {
            var errstr = [CChar](repeating: 0, count: 512)
            guard let request = rd_kafka_NewPartitions_new(name, totalPartitions, &errstr, errstr.count) else {
                throw KafkaError.topic(name: name, code: -1, message: String(cString: errstr))
            }
            defer { rd_kafka_NewPartitions_destroy(request) }
            try Self.runAdmin(handle.pointer, RD_KAFKA_ADMIN_OP_CREATEPARTITIONS, timeout) { options, queue in
                var requests: [OpaquePointer?] = [request]
                rd_kafka_CreatePartitions(handle.pointer, &requests, 1, options, queue)
            } results: { event in
                var count = 0
                let results = rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(event), &count)
                return (results, count)
            }
        }
    }

    /// Deletes a topic. Throws `KafkaError.topic` (code 3, UNKNOWN_TOPIC_OR_PART) if it does not exist.
    public func deleteTopic(_ name: String) async throws {
        let handle = self.handle, timeout = self.timeoutMillis
        try await onDedicatedThread("kafka-admin") {
            guard let request = rd_kafka_DeleteTopic_new(name) else { throw KafkaError.topic(name: name, code: -1, message: "invalid name") }
            defer { rd_kafka_DeleteTopic_destroy(request) }
            try Self.runAdmin(handle.pointer, RD_KAFKA_ADMIN_OP_DELETETOPICS, timeout) { options, queue in
                var requests: [OpaquePointer?] = [request]
                rd_kafka_DeleteTopics(handle.pointer, &requests, 1, options, queue)
            } results: { event in
                var count = 0
                let results = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(event), &count)
                return (results, count)
            }
        }
    }

    /// Sends one admin request and turns its per-topic results into errors.
    private static func runAdmin(
        _ rk: OpaquePointer, _ op: rd_kafka_admin_op_t, _ timeoutMillis: Int32,
        request: (OpaquePointer, OpaquePointer) -> Void,
        results: (OpaquePointer) -> (UnsafeMutablePointer<OpaquePointer?>?, Int)
    ) throws {
        let queue = rd_kafka_queue_new(rk)!
        defer { rd_kafka_queue_destroy(queue) }
        let options = rd_kafka_AdminOptions_new(rk, op)!
        defer { rd_kafka_AdminOptions_destroy(options) }
        var errstr = [CChar](repeating: 0, count: 512)
        _ = rd_kafka_AdminOptions_set_operation_timeout(options, timeoutMillis, &errstr, errstr.count)
        _ = rd_kafka_AdminOptions_set_request_timeout(options, timeoutMillis, &errstr, errstr.count)
        request(options, queue)
        guard let event = rd_kafka_queue_poll(queue, timeoutMillis + 1000) else {
            throw KafkaError.timedOut("admin request")
        }
        defer { rd_kafka_event_destroy(event) }
        let eventError = rd_kafka_event_error(event)
        if eventError != RD_KAFKA_RESP_ERR_NO_ERROR {
            throw KafkaError.client(code: eventError.rawValue, message: String(cString: rd_kafka_event_error_string(event)))
        }
        let (topics, count) = results(event)
        for index in 0..<count {
            guard let result = topics?[index] else { continue }
            let error = rd_kafka_topic_result_error(result)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                let message = rd_kafka_topic_result_error_string(result).map { String(cString: $0) } ?? String(cString: rd_kafka_err2str(error))
                throw KafkaError.topic(name: String(cString: rd_kafka_topic_result_name(result)), code: error.rawValue, message: message)
            }
        }
    }
}

extension KafkaError {
    /// A local or request timeout.
    public var isTimeout: Bool {
        switch self {
        case .timedOut: return true
        case .client(let code, _), .topic(_, let code, _):
            return code == RD_KAFKA_RESP_ERR__TIMED_OUT.rawValue || code == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue
        default: return false
        }
    }

    /// TOPIC_ALREADY_EXISTS.
    public var isTopicAlreadyExists: Bool {
        if case .topic(_, let code, _) = self { return code == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS.rawValue }
        return false
    }
}
