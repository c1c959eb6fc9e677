import Foundation
import Logging
import MarketplaceDomain
import MarketplaceKafka
import MarketplaceMessaging
import ServiceLifecycle

/// Keeps the presence index in step with `marketplace.provider-locations.v1`, and sweeps out
/// providers that went silent. Applying an event is idempotent (see ProviderPresenceIndex), so
/// redeliveries need no inbox.
public struct ProviderLocationWorker: Service {
    public let index: ProviderPresenceIndex
    public let consumer: KafkaConsumerConfiguration
    public let deadLetter: KafkaConsumerService.DeadLetter?
    public let logger: Logger

    public init(index: ProviderPresenceIndex, consumer: KafkaConsumerConfiguration, deadLetter: KafkaConsumerService.DeadLetter? = nil,
                logger: Logger = Logger(label: "dispatch.provider-locations")) {
        self.index = index
        self.consumer = consumer
        self.deadLetter = deadLetter
        self.logger = logger
    }

    public func run() async throws {
        let index = self.index
        let logger = self.logger
        let service = KafkaConsumerService(configuration: consumer, deadLetter: deadLetter, logger: logger) { record in
            let event = try CloudEventsKafka.event(from: record)
            switch event.type {
            case DispatchEvents.locationUpdated: try await index.apply(try event.decode(DispatchEvents.LocationUpdated.self))
            case DispatchEvents.availabilityChanged: try await index.apply(try event.decode(DispatchEvents.AvailabilityChanged.self))
            default: logger.debug("ignoring \(event.type)")
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await service.run() }
            group.addTask {
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: .seconds(5))
                    do { try await index.sweep() } catch is CancellationError { break } catch { logger.warning("sweep failed: \(error)") }
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }
}
