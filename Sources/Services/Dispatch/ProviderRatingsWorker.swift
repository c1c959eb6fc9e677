import Foundation
import Logging
import MarketplaceKafka
import MarketplaceMessaging
import ServiceLifecycle

/// Consumes `marketplace.reviews.v1` and keeps each provider's rating (average of the visible
/// reviews by clients) in `provider_ratings` and on its profile, where search and ranking read it.
public struct ProviderRatingsWorker: Service {
    public let service: DispatchService
    public let consumer: KafkaConsumerConfiguration
    public let deadLetter: KafkaConsumerService.DeadLetter?
    public let logger: Logger

    public init(service: DispatchService, consumer: KafkaConsumerConfiguration, deadLetter: KafkaConsumerService.DeadLetter? = nil,
                logger: Logger = Logger(label: "dispatch.provider-ratings")) {
        self.service = service
        self.consumer = consumer
        self.deadLetter = deadLetter
        self.logger = logger
    }

    public func run() async throws {
        let service = self.service
        try await KafkaConsumerService(configuration: consumer, deadLetter: deadLetter, logger: logger) { record in
            let event = try CloudEventsKafka.event(from: record)
            guard event.type == DispatchEvents.reviewPublished else { return }
            try await service.applyReviewPublished(event)
        }.run()
    }
}
