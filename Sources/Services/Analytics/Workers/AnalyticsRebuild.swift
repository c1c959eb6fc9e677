import Foundation
import Logging
import MarketplaceContracts
import MarketplaceKafka
import MarketplaceMessaging
import Synchronization

/// `marketplace analytics rebuild`: replays the domain topics from their beginning into a fresh
/// generation of the aggregates, switches the live worker and the dashboards over, and stays for
/// the tail. The live worker keeps running throughout; nothing it reads changes until the switch.
///
/// 1. The topics whose events leave facts others need (requests: category and area; users:
///    providers' time zones) are folded first, until the consumer has been idle for `idle`:
///    a replay reads partitions at their own pace, and a job must not be folded before its request.
/// 2. All the topics from the beginning (the first stage's events again: the new generation's
///    inbox skips them), until idle; then the switch (one write) and the tail, until idle again.
///    An event the live worker folded into the old generation just before the switch was in the
///    log before it, so the tail reaches it; after the switch both write the new generation and
///    its inbox counts each event once.
///
/// Lateness is judged against each record's broker timestamp, as the live worker judged it
/// against its arrival, so the rebuild counts what the live worker counted.
public struct AnalyticsRebuild: Sendable {
    public struct Options: Sendable {
        /// Records stored before this are left out (earlier events are not in the new aggregates).
        public var from: Date?
        /// How long the consumer must have had nothing to do to count as caught up.
        public var idle: Duration
        public init(from: Date? = nil, idle: Duration = .seconds(3)) {
            self.from = from
            self.idle = idle
        }
    }

    public struct Report: Sendable, Equatable {
        public var generation: AnalyticsGeneration
        public var outcome = AnalyticsService.BatchOutcome()
        public var records = 0
        public var beforeFrom = 0
        public var notCloudEvents = 0
        public var seconds = 0.0
    }

    let service: AnalyticsService
    let kafka: KafkaClientConfiguration
    let topics: TopicNames
    let options: Options
    let logger: Logger

    public init(service: AnalyticsService, kafka: KafkaClientConfiguration, topics: TopicNames, options: Options = .init(),
                logger: Logger = Logger(label: "analytics.rebuild")) {
        self.service = service
        self.kafka = kafka
        self.topics = topics
        self.options = options
        self.logger = logger
    }

    static let factTopics: [Topic] = [.serviceRequests, .users]

    public func run() async throws -> Report {
        let started = ContinuousClock.now
        let generation = try await service.freshGeneration()
        let tally = Tally(Report(generation: generation))
        let run = "analytics-rebuild-\(generation.number)-\(UUID().uuidString.prefix(8).lowercased())"
        logger.info("rebuilding analytics", metadata: ["generation": "\(generation)"])

        try await consume(Self.factTopics, group: "\(run)-facts", into: generation, tally: tally) { true }
        logger.info("facts folded, replaying every topic", metadata: ["records": "\(tally.withLock { $0.records })"])
        let switched = Atomic(false)
        try await consume(AnalyticsModule.topics, group: "\(run)-all", into: generation, tally: tally) {
            if switched.load(ordering: .relaxed) { return true }
            try await service.switchTo(generation)
            switched.store(true, ordering: .relaxed)
            logger.info("switched to the new generation; folding the tail", metadata: ["generation": "\(generation)"])
            return false
        }
        try await service.dropGeneration(twoBefore: generation)
        var report = tally.withLock { $0 }
        report.seconds = (ContinuousClock.now - started) / .seconds(1)
        return report
    }

    /// Folds `topicList` from the beginning with a group of its own until `caughtUp` says so,
    /// asked each time the consumer has been idle for `options.idle`.
    private func consume(_ topicList: [Topic], group: String, into generation: AnalyticsGeneration, tally: Tally,
                         caughtUp: @escaping @Sendable () async throws -> Bool) async throws {
        let configuration = KafkaConsumerConfiguration(client: kafka, groupID: topics.group(group), topics: topics.names(topicList),
                                                       autoOffsetReset: .earliest, fetchWaitMaxMillis: 100, maxBufferedRecords: 20_000, gatherMillis: 50)
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        let activity = Activity()
        let (service, options, logger) = (service, options, logger)
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await batch in consumer.batches {
                        activity.begin()
                        defer { activity.end() }
                        for start in stride(from: 0, to: batch.count, by: 1_000) {
                            try await Self.fold(Array(batch[start..<min(start + 1_000, batch.count)]), service: service, generation: generation,
                                                from: options.from, tally: tally, logger: logger)
                        }
                    }
                }
                group.addTask {
                    while true {
                        try await Task.sleep(for: .milliseconds(100))
                        // Idle counts from the first assignment: joining the group takes a while.
                        guard !consumer.assignment.isEmpty else { activity.touch(); continue }
                        guard activity.idle(for: options.idle) else { continue }
                        if try await caughtUp() { consumer.stopDelivery(); return }
                        activity.touch()
                    }
                }
                _ = try await group.next()
                group.cancelAll()
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
    }

    private static func fold(_ records: [KafkaRecord], service: AnalyticsService, generation: AnalyticsGeneration, from: Date?,
                             tally: Tally, logger: Logger) async throws {
        var events: [EventEnvelope] = [], arrivals: [String: Date] = [:]
        var beforeFrom = 0, notCloudEvents = 0
        for record in records {
            let stored = record.timestampMillis.map { Date(timeIntervalSince1970: Double($0) / 1000) }
            if let from, let stored, stored < from { beforeFrom += 1; continue }
            // The live worker dead-letters these; the rebuild counts and skips them.
            guard let event = try? CloudEventsKafka.event(from: record) else { notCloudEvents += 1; continue }
            events.append(event)
            if let stored { arrivals[event.id] = stored }
        }
        var attempt = 1
        var outcome = AnalyticsService.BatchOutcome()
        while true {
            do {
                outcome = try await service.apply(events, arrivals: arrivals, generation: generation)
                break
            } catch {
                // After the switch the live worker inserts the same inbox records: the next round
                // reads them and skips those events.
                guard attempt < 6 else { throw error }
                logger.warning("rebuild batch failed, retrying", metadata: ["attempt": "\(attempt)", "error": "\(error)"])
                try await Task.sleep(for: .milliseconds(100 * (1 << attempt)))
                attempt += 1
            }
        }
        tally.withLock { report in
            report.records += records.count
            report.beforeFrom += beforeFrom
            report.notCloudEvents += notCloudEvents
            report.outcome.add(outcome)
        }
    }
}

/// The rebuild's running totals, shared by its tasks.
private final class Tally: Sendable {
    private let report: Mutex<AnalyticsRebuild.Report>
    init(_ report: AnalyticsRebuild.Report) { self.report = Mutex(report) }
    func withLock<T: Sendable>(_ body: (inout AnalyticsRebuild.Report) -> T) -> T { report.withLock { body(&$0) } }
}

/// Whether a consumer is folding a batch and when it last did anything.
private final class Activity: Sendable {
    private let state = Mutex((busy: false, last: ContinuousClock.now))

    func begin() { state.withLock { $0.busy = true } }
    func end() { state.withLock { $0 = (false, .now) } }
    func touch() { state.withLock { $0.last = .now } }
    func idle(for duration: Duration) -> Bool { state.withLock { !$0.busy && ContinuousClock.now - $0.last >= duration } }
}
