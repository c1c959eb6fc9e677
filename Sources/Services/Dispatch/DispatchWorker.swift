import Foundation
import Logging
import MarketplaceKafka
import MarketplaceMessaging
import ServiceLifecycle

/// Consumes `marketplace.service-requests.v1` and sends the first wave of offers for each new
/// request. Several instances share the partitions (one consumer group); the inbox keeps a
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
        try await KafkaConsumerService(configuration: consumer, deadLetter: deadLetter, logger: logger) { record in
            let event = try CloudEventsKafka.event(from: record)
            guard event.type == DispatchEvents.requestCreated else { return }
            try await service.dispatch(event, index: index)
        }.run()
    }
}
