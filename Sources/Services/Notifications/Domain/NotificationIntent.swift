import Foundation
import MarketplaceContracts

/// Someone should hear of something: what a domain event means for one recipient, before
/// preferences, presence and templates decide how (pure: tested without servers).
public struct NotificationIntent: Sendable, Equatable {
    public var recipientId: String
    public var kind: NotificationKind
    /// Template values besides the recipient's own (`name`); names of other parties are
    /// resolved later from their ids in `people`.
    public var values: [String: String]
    /// Template values that are the names of these users (`otherName` → a user id).
    public var people: [String: String]
    public var jobId: String?
    public var data: [String: String]
    public var sourceEventId: String
    public var eventTime: Date

    public init(recipientId: String, kind: NotificationKind, values: [String: String] = [:], people: [String: String] = [:], jobId: String? = nil,
                data: [String: String] = [:], sourceEventId: String, eventTime: Date) {
        self.recipientId = recipientId
        self.kind = kind
        self.values = values
        self.people = people
        self.jobId = jobId
        self.data = data
        self.sourceEventId = sourceEventId
        self.eventTime = eventTime
    }

    /// What `event` means to whom: offers to the provider; job changes to the other party (both
    /// when an admin made them); a chat message to the members who did not write it; a welcome
    /// and a password-reset e-mail to the account's owner; a receipt for each capture and a notice
    /// of each refund to the client who paid.
    public static func from(_ event: EventEnvelope, resetLink: (String) -> String) throws -> [NotificationIntent] {
        switch event.type {
        case DispatchEvents.offerSent:
            let offer = try event.decode(DispatchEvents.OfferEvent.self)
            return [NotificationIntent(recipientId: offer.providerId, kind: .offerReceived, data: ["offerId": offer.offerId, "requestId": offer.requestId],
                                       sourceEventId: event.id, eventTime: event.time)]
        case DispatchEvents.jobAssigned:
            let job = try event.decode(DispatchEvents.JobAssigned.self)
            return [NotificationIntent(recipientId: job.clientId, kind: .jobAssigned, people: ["providerName": job.providerId, "otherName": job.providerId],
                                       jobId: job.jobId, data: ["jobId": job.jobId, "status": JobStatus.assigned.rawValue],
                                       sourceEventId: event.id, eventTime: event.time)]
        case DispatchEvents.jobStatusChanged:
            let change = try event.decode(DispatchEvents.JobStatusChanged.self)
            guard let kind = NotificationKind.forJobStatus(change.to.rawValue) else { return [] }
            let recipients: [(String, String)] = switch change.by {
            case .provider: [(change.clientId, change.providerId)]
            case .client: [(change.providerId, change.clientId)]
            case .admin: [(change.clientId, change.providerId), (change.providerId, change.clientId)]
            }
            var values: [String: String] = [:]
            if let reason = change.reason, !reason.isEmpty { values["reason"] = reason }
            return recipients.map { recipient, other in
                NotificationIntent(recipientId: recipient, kind: kind, values: values, people: ["otherName": other], jobId: change.jobId,
                                   data: ["jobId": change.jobId, "status": change.to.rawValue], sourceEventId: event.id, eventTime: event.time)
            }
        case ChatEvents.messageSent:
            let sent = try event.decode(ChatEvents.MessageSent.self)
            guard sent.message.kind == "user" else { return [] }
            let preview = sent.message.text.map { $0.count > 120 ? String($0.prefix(119)) + "…" : $0 } ?? "📎"
            return sent.unread.filter { $0.userId != sent.message.senderId }.map {
                NotificationIntent(recipientId: $0.userId, kind: .chatMessage, values: ["preview": preview], people: ["senderName": sent.message.senderId],
                                   jobId: sent.jobId, data: ["jobId": sent.jobId, "seq": String(sent.message.seq)],
                                   sourceEventId: event.id, eventTime: event.time)
            }
        case PaymentEvents.captured, PaymentEvents.refunded:
            let payment = try event.decode(PaymentEvents.PaymentChanged.self)
            var values = ["amount": payment.amount.description]
            if payment.reason == "cancellation_fee" { values["fee"] = "yes" }
            if event.type == PaymentEvents.refunded, let reason = payment.reason, !reason.isEmpty { values["reason"] = reason }
            var data = ["paymentId": payment.paymentId]
            if let jobId = payment.jobId { data["jobId"] = jobId }
            return [NotificationIntent(recipientId: payment.clientId, kind: event.type == PaymentEvents.captured ? .paymentReceipt : .paymentRefunded,
                                       // Not tied to the job's updates (no jobId): a receipt neither collapses nor supersedes them.
                                       values: values, people: payment.providerId.map { ["otherName": $0] } ?? [:], data: data,
                                       sourceEventId: event.id, eventTime: event.time)]
        case IdentityEvents.userRegistered:
            let user = try event.decode(IdentityEvents.UserRegistered.self)
            var values: [String: String] = [:]
            if user.role == Role.provider.rawValue { values["provider"] = "yes" }
            return [NotificationIntent(recipientId: user.userId, kind: .welcome, values: values, sourceEventId: event.id, eventTime: event.time)]
        case IdentityEvents.passwordResetRequested:
            let reset = try event.decode(IdentityEvents.PasswordResetRequested.self)
            return [NotificationIntent(recipientId: reset.userId, kind: .passwordReset,
                                       values: ["link": resetLink(reset.token),
                                                "expiresAt": reset.expiresAt.formatted(.iso8601)],
                                       sourceEventId: event.id, eventTime: event.time)]
        default:
            return []
        }
    }
}
