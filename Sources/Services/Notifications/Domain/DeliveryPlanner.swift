import Foundation
import MarketplaceContracts

/// How one intent goes out, given the recipient's preferences, whether they are connected to the
/// realtime gateway, and how they can be reached (pure: tested without servers):
/// - the in-app feed entry when the kind has one and the user has not turned it off;
/// - a push only when the user is not connected (a connected user sees the in-app entry live);
/// - e-mail where the kind has one and the preferences allow it;
/// - for a critical update, an SMS 60 s later unless the in-app entry was read by then;
/// - during quiet hours, only critical (and just-requested) sends go at once; the rest are held
///   until the quiet hours end. The feed entry is written at once: it makes no sound.
public struct DeliveryPlanner: Sendable {
    public var smsFallbackDelay: TimeInterval

    public init(smsFallbackDelay: TimeInterval = 60) { self.smsFallbackDelay = smsFallbackDelay }

    public struct Plan: Sendable, Equatable {
        public var feed: Bool
        /// Channel → when to send (nil: now).
        public var sends: [NotificationChannel: Date?]
        /// When the SMS fallback is due (sent only while the feed entry is unread).
        public var smsFallbackAt: Date?

        public var isEmpty: Bool { !feed && sends.isEmpty && smsFallbackAt == nil }
    }

    public func plan(_ intent: NotificationIntent, preferences: NotificationPreferences, connected: Bool, contact: Contact, now: Date) -> Plan {
        let kind = intent.kind
        // A suspended account still gets account mail (a reset), nothing else.
        guard contact.active || kind.category == .account else { return Plan(feed: false, sends: [:], smsFallbackAt: nil) }
        let allowed = { (channel: NotificationChannel) in kind.channels.contains(channel) && preferences.allows(kind.category, channel) }
        let heldUntil = kind.urgency == .normal ? preferences.quietHoursEnd(after: now) : nil
        var sends: [NotificationChannel: Date?] = [:]
        let feed = allowed(.inApp)
        // updateValue: assigning a nil Date? through the subscript would remove the key.
        if allowed(.push) && !connected { sends.updateValue(heldUntil, forKey: .push) }
        if allowed(.email) { sends.updateValue(heldUntil, forKey: .email) }
        var fallback: Date?
        if allowed(.sms), kind.urgency == .critical, feed, contact.e164 != nil {
            fallback = now.addingTimeInterval(smsFallbackDelay)
        }
        return Plan(feed: feed, sends: sends, smsFallbackAt: fallback)
    }

    /// How long a push stays worth delivering (APNs/FCM drop it after): an offer is answered in
    /// seconds, a job update matters while the job runs, a chat message for a day.
    public static func pushTTL(_ kind: NotificationKind) -> Int {
        switch kind {
        case .offerReceived: 60
        case .jobAssigned, .jobEnRoute, .jobArrived, .jobInProgress: 900
        case .jobCompleted, .jobCancelled: 3_600
        case .chatMessage, .announcement, .passwordReset, .welcome, .paymentReceipt, .paymentRefunded: 86_400
        }
    }
}
