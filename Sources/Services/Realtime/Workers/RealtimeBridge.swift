import Foundation
import MarketplaceContracts

/// Turns domain events into what clients see: offers reach the provider's `user:` channel, job
/// events reach `job:<id>` and both parties' `user:` channels, and a job that completes or is
/// cancelled has its channels revoked (subscribers get an unsubscribe push). One consumer group
/// for all instances (the `realtime-bridge` worker); the data is `{"type": <event type>, "data": <event data>}`.
public enum RealtimeBridge {
    /// Publishes what `event` becomes; nothing for events clients do not see.
    public static func handle(_ event: EventEnvelope, publisher: RealtimePublisher) async throws {
        let records = try records(for: event)
        guard !records.isEmpty else { return }
        try await publisher.sendBatch(records, traceparent: event.traceparent)
    }

    /// What one domain event becomes on the fan-out topic (pure: tested without Kafka).
    public static func records(for event: EventEnvelope) throws -> [(RealtimeBus.Kind, RealtimeChannel, [UInt8])] {
        let data = Array(#"{"type":\#(JSONText.quote(event.type.rawValue)),"data":"#.utf8) + event.data + Array("}".utf8)
        switch event.type {
        case DispatchEvents.offerSent, DispatchEvents.offerWithdrawn, DispatchEvents.offerExpired, DispatchEvents.offerAccepted:
            let offer = try event.decode(DispatchEvents.OfferEvent.self)
            return [(.publication, .user(offer.providerId), data)]
        case DispatchEvents.jobAssigned:
            let job = try event.decode(DispatchEvents.JobAssigned.self)
            return [(.publication, .job(job.jobId), data), (.publication, .user(job.clientId), data), (.publication, .user(job.providerId), data)]
        case DispatchEvents.jobStatusChanged:
            let change = try event.decode(DispatchEvents.JobStatusChanged.self)
            var records: [(RealtimeBus.Kind, RealtimeChannel, [UInt8])] = [
                (.publication, .job(change.jobId), data), (.publication, .user(change.clientId), data), (.publication, .user(change.providerId), data),
            ]
            if !change.to.isActive {
                // After the final status on the same channel (same partition, so in this order).
                records += RealtimeChannel.jobBound(change.jobId).map { (.revoke, $0, Array("{}".utf8)) }
            }
            return records
        default:
            return []
        }
    }
}
