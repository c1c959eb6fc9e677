import CRdKafka
import Foundation
import Metrics

/// The one opaque librdkafka passes to every callback of a client handle.
final class KafkaCallbackContext: @unchecked Sendable {
    // Set before the handle exists and read only on the handle's poll thread afterwards.
    var statistics: KafkaStatisticsExporter?
    var rebalance: ((OpaquePointer, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> Void)?

    /// Installs the callbacks on `conf`; the context must outlive the handle.
    func install(on conf: OpaquePointer) {
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(self).toOpaque())
        if statistics != nil { rd_kafka_conf_set_stats_cb(conf, statisticsCallback) }
        if rebalance != nil { rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback) }
    }
}

private let statisticsCallback: @convention(c) (OpaquePointer?, UnsafeMutablePointer<CChar>?, Int, UnsafeMutableRawPointer?) -> Int32 = { _, json, length, opaque in
    guard let json, let opaque else { return 0 }
    let context = Unmanaged<KafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    context.statistics?.record(Data(bytes: json, count: length))
    return 0  // librdkafka frees the JSON
}

private let rebalanceCallback: @convention(c) (OpaquePointer?, rd_kafka_resp_err_t, UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?, UnsafeMutableRawPointer?) -> Void = { handle, error, partitions, opaque in
    guard let handle, let partitions, let opaque else { return }
    let context = Unmanaged<KafkaCallbackContext>.fromOpaque(opaque).takeUnretainedValue()
    context.rebalance?(handle, error, partitions)
}

/// Turns librdkafka's periodic statistics JSON into Prometheus-style gauges:
/// `kafka_consumer_lag{client,role,group,topic,partition}` (records not yet handled; `group`: what a
/// worker's autoscaler selects on), `kafka_queue_messages{client}` (records waiting
/// in librdkafka), `kafka_broker_errors{client}` (transmit + receive errors, cumulative),
/// `kafka_reply_queue{client}`.
final class KafkaStatisticsExporter: Sendable {
    let role: String
    let clientID: String
    /// The consumer group (consumers only).
    let group: String?

    init(role: String, clientID: String, group: String? = nil) {
        self.role = role
        self.clientID = clientID
        self.group = group
    }

    func record(_ json: Data) {
        guard let root = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else { return }
        let client = [("client", clientID), ("role", role)]
        if let messages = root["msg_cnt"] as? Int {
            Gauge(label: "kafka_queue_messages", dimensions: client).record(messages)
        }
        if let replies = root["replyq"] as? Int {
            Gauge(label: "kafka_reply_queue", dimensions: client).record(replies)
        }
        if let brokers = root["brokers"] as? [String: [String: Any]] {
            let errors = brokers.values.reduce(0) { sum, broker in
                sum + ((broker["txerrs"] as? Int) ?? 0) + ((broker["rxerrs"] as? Int) ?? 0)
            }
            Gauge(label: "kafka_broker_errors", dimensions: client).record(errors)
        }
        guard let topics = root["topics"] as? [String: [String: Any]] else { return }
        for (topic, topicStats) in topics {
            guard let partitions = topicStats["partitions"] as? [String: [String: Any]] else { continue }
            for (partition, stats) in partitions where partition != "-1" {
                // Lag behind what the handlers finished (stored offsets), else behind commits;
                // librdkafka reports -1 while neither is known.
                let stored = stats["consumer_lag_stored"] as? Int ?? -1
                let committed = stats["consumer_lag"] as? Int ?? -1
                let lag = stored >= 0 ? stored : committed
                guard lag >= 0 else { continue }
                Gauge(label: "kafka_consumer_lag",
                      dimensions: client + (group.map { [("group", $0)] } ?? []) + [("topic", topic), ("partition", partition)]).record(lag)
            }
        }
    }
}
