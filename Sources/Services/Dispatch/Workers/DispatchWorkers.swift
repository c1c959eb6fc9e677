import Foundation
import MarketplaceContracts
import MarketplaceMessaging
import MarketplacePlatform

/// Dispatch's workers, each declared as topics + group + handler (the platform runs them with
/// retries, dead letters and graceful shutdown).
extension DispatchModule {
    public static var workers: [WorkerDefinition<DispatchModule>] {
        [
            // Applying an event is idempotent (see ProviderPresenceIndex), so redeliveries need no
            // inbox; providers that went silent are swept out.
            .consumer("provider-locations", summary: "keeps the Redis index of online providers from their location events") { module in
                ConsumerWorker(topics: [.providerLocations], group: "dispatch-provider-index",
                               chores: [PeriodicChore("presence sweep", every: .seconds(5)) { try await module.index.sweep() }]) { event in
                    switch event.type {
                    case DispatchEvents.locationUpdated: try await module.index.apply(try event.decode(DispatchEvents.LocationUpdated.self))
                    case DispatchEvents.availabilityChanged: try await module.index.apply(try event.decode(DispatchEvents.AvailabilityChanged.self))
                    default: break
                    }
                }
            },
            // Several instances share the partitions (one group); the inbox keeps a redelivered
            // request from being offered twice. Wave timers live in MongoDB (dispatch_states): any
            // instance advances the due ones.
            .consumer("dispatch", summary: "offers new service requests to nearby providers, wave after wave") { module in
                ConsumerWorker(topics: [.serviceRequests], group: "dispatch-worker", chores: [
                    PeriodicChore("advancing waves", every: .milliseconds(500)) { try await module.service.advanceWaves(index: module.index) },
                    PeriodicChore("publishing due reviews", every: .milliseconds(500)) { try await module.service.publishDueReviews() },
                ]) { event in
                    guard event.type == DispatchEvents.requestCreated else { return }
                    try await module.service.dispatch(event, index: module.index)
                }
            },
            // Each provider's rating (average of the visible reviews by clients), where search and
            // ranking read it.
            .consumer("provider-ratings", summary: "keeps providers' average rating from published reviews") { module in
                ConsumerWorker(topics: [.reviews], group: "dispatch-provider-ratings") { event in
                    guard event.type == DispatchEvents.reviewPublished else { return }
                    try await module.service.applyReviewPublished(event)
                }
            },
        ]
    }
}
