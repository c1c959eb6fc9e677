import Foundation
import Logging
import MarketplaceKafka
import MarketplaceMessaging
import ServiceLifecycle

/// Consumes `marketplace.service-requests.v1` and sends the first wave of offers for each new
/// request; advances the later waves when their timers run out. Several instances share the partitions (one consumer group); the inbox keeps a
/// redelivered request from being offered twice.
public struct DispatchWorker: Service {
    public let service: DispatchService
    public let index: ProviderPresenceIndex
    public let consumer: KafkaConsumerConfiguration
    public let deadLetter: KafkaConsumerService.DeadLetter?
    public let logger: Logger

    public init(service: DispatchService, index: ProviderPresenceIndex, consumer: KafkaConsumerConfiguration,
                deadLetter: KafkaConsumerService.DeadLetter? = nil, logger: Logger = Logger(label: "dispatch.worker")) {
        self.service = service
        self.index = index
        self.consumer = consumer
        self.deadLetter = deadLetter
        self.logger = logger
    }

    public func run() async throws {
        let (service, index, logger) = (self.service, self.index, self.logger)
        let consumerService = KafkaConsumerService(configuration: consumer, deadLetter: deadLetter, logger: logger) { record in
            let event = try CloudEventsKafka.event(from: record)
            guard event.type == DispatchEvents.requestCreated else { return }
            try await service.dispatch(event, index: index)
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await consumerService.run() }
            // Wave timers live in MongoDB (dispatch_states): any instance advances the due ones.
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    do { try await service.advanceWaves(index: index) } catch { logger.warning("advancing waves failed: \(error)") }
                    do { try await service.publishDueReviews() } catch { logger.warning("publishing due reviews failed: \(error)") }
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
