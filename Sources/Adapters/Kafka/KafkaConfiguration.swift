import CRdKafka

/// Settings shared by producers, consumers and the admin client.
/// `properties` passes any further librdkafka property through unchanged
/// (see librdkafka's CONFIGURATION.md); ours are applied first, so a property given there wins.
public struct KafkaClientConfiguration: Sendable {
    public var bootstrapServers: String
    public var clientID: String
    /// How often librdkafka reports statistics (exported as metrics); 0 turns them off.
    public var statisticsIntervalMillis: Int
    public var properties: [String: String]
    /// Consumers only: replaces each consumer's own `fetch.wait.max.ms` (a broker on object
    /// storage answers nothing below ~500 ms).
    public var consumerFetchWaitMaxMillis: Int?

    public init(bootstrapServers: String = "127.0.0.1:9092", clientID: String = "marketplace",
                statisticsIntervalMillis: Int = 0, properties: [String: String] = [:], consumerFetchWaitMaxMillis: Int? = nil) {
        self.bootstrapServers = bootstrapServers
        self.clientID = clientID
        self.statisticsIntervalMillis = statisticsIntervalMillis
        self.properties = properties
        self.consumerFetchWaitMaxMillis = consumerFetchWaitMaxMillis
    }

    var baseProperties: [(String, String)] {
        [("bootstrap.servers", bootstrapServers), ("client.id", clientID),
         ("statistics.interval.ms", String(statisticsIntervalMillis))]
    }
}

public struct KafkaProducerConfiguration: Sendable {
    public var client: KafkaClientConfiguration
    /// Time librdkafka waits to fill a batch; 0 favours latency, a few ms favour throughput.
    public var lingerMillis: Int
    /// Idempotence: no duplicates and no reordering on retries (implies acks=all).
    public var idempotent: Bool
    /// How long a message may wait for acknowledgement before it fails.
    public var deliveryTimeoutMillis: Int
    public var compression: String

    public init(client: KafkaClientConfiguration = .init(), lingerMillis: Int = 5, idempotent: Bool = true,
                deliveryTimeoutMillis: Int = 30_000, compression: String = "none") {
        self.client = client
        self.lingerMillis = lingerMillis
        self.idempotent = idempotent
        self.deliveryTimeoutMillis = deliveryTimeoutMillis
        self.compression = compression
    }

    var properties: [(String, String)] {
        client.baseProperties + [
            ("linger.ms", String(lingerMillis)),
            ("enable.idempotence", idempotent ? "true" : "false"),
            ("acks", "all"),
            ("delivery.timeout.ms", String(deliveryTimeoutMillis)),
            ("compression.codec", compression),
        ] + client.properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

public struct KafkaConsumerConfiguration: Sendable {
    public enum OffsetReset: String, Sendable { case earliest, latest }

    public var client: KafkaClientConfiguration
    public var groupID: String
    public var topics: [String]
    public var autoOffsetReset: OffsetReset
    /// Stored offsets are committed in the background this often (batched commits).
    public var commitIntervalMillis: Int
    public var sessionTimeoutMillis: Int
    public var heartbeatIntervalMillis: Int
    /// How long a fetch waits at the broker for data; latency follows it on Tansu.
    public var fetchWaitMaxMillis: Int
    /// Records buffered ahead of the handler. Above this, partitions are paused;
    /// below half of it they resume.
    public var maxBufferedRecords: Int
    /// How long a full buffer may hold the poll loop before the partitions are paused.
    public var pauseAfterMillis: Int
    /// "range", "roundrobin" or "cooperative-sticky".
    public var assignmentStrategy: String
    /// After a record arrives, how long the poll thread keeps gathering before handing the batch
    /// over (fewer wake-ups of the handler). 0 hands over what librdkafka has at once: the
    /// latency-sensitive choice (the realtime gateway's).
    public var gatherMillis: Int

    public init(client: KafkaClientConfiguration = .init(), groupID: String, topics: [String],
                autoOffsetReset: OffsetReset = .earliest, commitIntervalMillis: Int = 1000,
                sessionTimeoutMillis: Int = 6000, heartbeatIntervalMillis: Int = 1000,
                fetchWaitMaxMillis: Int = 100, maxBufferedRecords: Int = 10_000, pauseAfterMillis: Int = 2000,
                assignmentStrategy: String = "cooperative-sticky", gatherMillis: Int = 1) {
        self.client = client
        self.groupID = groupID
        self.topics = topics
        self.autoOffsetReset = autoOffsetReset
        self.commitIntervalMillis = commitIntervalMillis
        self.sessionTimeoutMillis = sessionTimeoutMillis
        self.heartbeatIntervalMillis = heartbeatIntervalMillis
        self.fetchWaitMaxMillis = fetchWaitMaxMillis
        self.maxBufferedRecords = maxBufferedRecords
        self.pauseAfterMillis = pauseAfterMillis
        self.assignmentStrategy = assignmentStrategy
        self.gatherMillis = gatherMillis
    }

    var properties: [(String, String)] {
        client.baseProperties + [
            ("group.id", groupID),
            ("auto.offset.reset", autoOffsetReset.rawValue),
            // At-least-once: librdkafka commits in the background, but only offsets that we
            // stored after the handler succeeded.
            ("enable.auto.commit", "true"),
            ("enable.auto.offset.store", "false"),
            ("auto.commit.interval.ms", String(commitIntervalMillis)),
            ("session.timeout.ms", String(sessionTimeoutMillis)),
            ("heartbeat.interval.ms", String(heartbeatIntervalMillis)),
            ("fetch.wait.max.ms", String(client.consumerFetchWaitMaxMillis ?? fetchWaitMaxMillis)),
            ("partition.assignment.strategy", assignmentStrategy),
            ("enable.partition.eof", "false"),
        ] + fetchQueueBackoff + client.properties.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }
}

/// librdkafka >= 2.4 waits `fetch.queue.backoff.ms` (default 1000 ms) before fetching again once a
/// partition's local queue passed its threshold: a fast consumer then stalls for a second at a
/// time (measured: 0.9 s pauses, 4x lower throughput on Tansu). 10 ms keeps fetching steady.
/// Older runtimes do not know the property, so it is only set where it exists.
var fetchQueueBackoff: [(String, String)] {
    rd_kafka_version() >= 0x0204_0000 ? [("fetch.queue.backoff.ms", "10")] : []
}

/// Builds an rd_kafka_conf_t; throws naming the first property librdkafka refuses.
func makeNativeConfiguration(_ properties: [(String, String)]) throws -> OpaquePointer {
    let conf = rd_kafka_conf_new()!
    var errstr = [CChar](repeating: 0, count: 512)
    for (key, value) in properties {
        let result = rd_kafka_conf_set(conf, key, value, &errstr, errstr.count)
        if result != RD_KAFKA_CONF_OK {
            rd_kafka_conf_destroy(conf)
            throw KafkaError.configuration(key: key, message: String(cString: errstr))
        }
    }
    return conf
}
