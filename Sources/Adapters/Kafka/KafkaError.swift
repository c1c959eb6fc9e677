import CRdKafka

/// Every failure the Kafka adapter reports. librdkafka's numeric code is kept so that callers
/// (and logs) can tell a full queue from a fenced producer without parsing text.
public enum KafkaError: Error, CustomStringConvertible, Sendable, Equatable {
    /// A configuration property librdkafka refused; names the key.
    case configuration(key: String, message: String)
    /// The broker (or librdkafka) refused a message after it was handed over.
    case delivery(code: Int32, message: String)
    /// Any other librdkafka call that failed.
    case client(code: Int32, message: String)
    /// An admin operation failed for one topic.
    case topic(name: String, code: Int32, message: String)
    /// An operation did not complete in time.
    case timedOut(String)
    /// The client was already closed.
    case closed

    public var description: String {
        switch self {
        case .configuration(let key, let message): "invalid Kafka configuration '\(key)': \(message)"
        case .delivery(let code, let message): "Kafka delivery failed (\(code)): \(message)"
        case .client(let code, let message): "Kafka error (\(code)): \(message)"
        case .topic(let name, let code, let message): "Kafka topic '\(name)' (\(code)): \(message)"
        case .timedOut(let what): "Kafka operation timed out: \(what)"
        case .closed: "Kafka client is closed"
        }
    }

    static func from(_ code: rd_kafka_resp_err_t, delivery: Bool = false) -> KafkaError {
        let message = String(cString: rd_kafka_err2str(code))
        return delivery ? .delivery(code: code.rawValue, message: message) : .client(code: code.rawValue, message: message)
    }

    /// Consumes (destroys) a librdkafka error object.
    static func consume(_ error: OpaquePointer) -> KafkaError {
        defer { rd_kafka_error_destroy(error) }
        return .client(code: rd_kafka_error_code(error).rawValue, message: String(cString: rd_kafka_error_string(error)))
    }
}
