import Foundation

/// The delivery log (`notification_deliveries`): one document per (event, recipient, channel),
/// written with the decision and moved on by the channel's sender. Admins read it.
public struct DeliveryRecord: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable, CaseIterable {
        /// Waiting for its time (quiet hours, the SMS fallback's delay).
        case scheduled
        case queued
        case sending
        /// A transient failure; the sender tries again after a backoff.
        case retrying
        case sent
        /// Refused for good (invalid address, disabled endpoint): not retried.
        case failed
        /// Transient failures until the attempts ran out: dead-lettered.
        case dead
        /// Nothing to send it to, a cap reached, or overtaken (see `lastError`).
        case skipped
        /// No longer applies: the job moved on, or the notification was read in the app.
        case cancelled

        public var isFinal: Bool { ![.scheduled, .queued, .sending, .retrying].contains(self) }
    }

    public var _id: String
    public var userId: String
    public var channel: NotificationChannel
    public var kind: NotificationKind
    public var status: Status
    public var attempts: Int
    public var jobId: String?
    public var notificationId: String?
    public var dueAt: Date?
    public var providerMessageId: String?
    public var lastError: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var sentAt: Date?

    public var view: DeliveryView {
        DeliveryView(id: _id, userId: userId, channel: channel.rawValue, kind: kind.rawValue, status: status.rawValue, attempts: attempts, jobId: jobId,
                     notificationId: notificationId, dueAt: dueAt, providerMessageId: providerMessageId, lastError: lastError,
                     createdAt: createdAt, updatedAt: updatedAt, sentAt: sentAt)
    }
}

public struct DeliveryView: Codable, Sendable, Equatable {
    public var id: String
    public var userId: String
    public var channel: String
    public var kind: String
    public var status: String
    public var attempts: Int
    public var jobId: String?
    public var notificationId: String?
    public var dueAt: Date?
    public var providerMessageId: String?
    public var lastError: String?
    public var createdAt: Date
    public var updatedAt: Date
    public var sentAt: Date?
}

/// A send that waits (`notification_schedule`): held by quiet hours, or the SMS fallback of a
/// critical update, which goes only while its in-app notification is unread.
public struct ScheduledSend: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case pending, done, cancelled }

    public var _id: String
    public var dueAt: Date
    public var status: Status
    public var userId: String
    public var jobId: String?
    /// Sent only while this feed entry is unread (the SMS fallback).
    public var unlessRead: String?
    public var request: SendRequest
}

/// A registered phone or tablet (`notification_devices`): its SNS endpoint, disabled when SNS
/// reports the token dead until the app registers it again.
public struct Device: Codable, Sendable, Equatable {
    public enum Platform: String, Codable, Sendable, CaseIterable { case ios, android }

    public var _id: String
    public var userId: String
    public var platform: Platform
    public var token: String
    public var appVersion: String?
    public var endpointArn: String
    public var enabled: Bool
    public var disabledAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public var view: DeviceView {
        DeviceView(id: _id, platform: platform.rawValue, appVersion: appVersion, enabled: enabled, disabledAt: disabledAt, createdAt: createdAt)
    }
}

public struct DeviceView: Codable, Sendable, Equatable {
    public var id: String
    public var platform: String
    public var appVersion: String?
    public var enabled: Bool
    public var disabledAt: Date?
    public var createdAt: Date
}
