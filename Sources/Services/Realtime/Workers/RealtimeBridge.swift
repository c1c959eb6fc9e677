import Foundation
import MarketplaceContracts

/// Turns domain events into what clients see: offers reach the provider's `user:` channel, job
/// events reach `job:<id>` and both parties' `user:` channels, and a job that completes or is
/// cancelled has its `job:` and `location:` channels revoked (subscribers get an unsubscribe
/// push). Chat events reach `chat:<jobId>` (messages, read receipts, closing, after which the
/// channel is revoked) and each member's `user:` channel as `chat.unread-changed` (so every
/// device of the member agrees) — those records are written by Chat itself, in its outbox,
/// through `BridgeFanOut`; the `realtime-bridge` worker (one consumer group for all instances)
/// handles offers and jobs. A notification's feed entry reaches the recipient's `user:` channel
/// (`notification.created`, from Notifications' outbox the same way). The data is `{"type": <event type>, "data": <event data>}`.
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
        case ChatEvents.messageSent:
            let sent = try event.decode(ChatEvents.MessageSent.self)
            return [(.publication, .chat(sent.jobId), data)]
                + sent.unread.map { (.publication, .user($0.userId), unreadChanged(jobID: sent.jobId, unreadCount: $0.unreadCount, lastSeq: sent.message.seq)) }
        case ChatEvents.messagesRead:
            let read = try event.decode(ChatEvents.MessagesRead.self)
            return [(.publication, .chat(read.jobId), data),
                    (.publication, .user(read.userId), unreadChanged(jobID: read.jobId, unreadCount: read.unreadCount, lastSeq: nil))]
        case ChatEvents.conversationClosed:
            let closed = try event.decode(ChatEvents.ConversationClosed.self)
            return [(.publication, .chat(closed.jobId), data)] + closed.members.map { (.publication, .user($0), data) }
                + [(.revoke, .chat(closed.jobId), Array("{}".utf8))]
        case NotificationEvents.created:
            let created = try event.decode(NotificationEvents.Created.self)
            return [(.publication, .user(created.userId), data)]
        default:
            return []
        }
    }

    static let unreadChangedType = "chat.unread-changed"

    static func unreadChanged(jobID: String, unreadCount: Int, lastSeq: Int?) -> [UInt8] {
        let seq = lastSeq.map { #","lastSeq":\#($0)"# } ?? ""
        return Array(#"{"type":"\#(unreadChangedType)","data":{"jobId":\#(JSONText.quote(jobID)),"unreadCount":\#(unreadCount)\#(seq)}}"#.utf8)
    }
}
