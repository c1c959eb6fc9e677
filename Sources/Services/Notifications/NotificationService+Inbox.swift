import Foundation
import MarketplaceContracts

/// What users do over REST: read their feed, mark it read, set preferences, register devices;
/// and what admins read: the delivery log.
extension NotificationService {
    public struct ReadAll: Codable, Sendable, Equatable {
        public var updated: Int
        public var unreadCount: Int
    }

    public struct UnreadCount: Codable, Sendable, Equatable {
        public var unreadCount: Int
    }

    public func notifications(_ caller: Caller, cursor: String?, limit: Int) async throws -> NotificationPage {
        if let cursor, cursor.count > 64 || !cursor.allSatisfy({ $0.isLetter || $0.isNumber }) {
            throw DomainError.invalidParameter("cursor", "a nextCursor from an earlier page")
        }
        async let page = feed.page(userID: caller.userID, before: cursor, limit: limit)
        async let unread = feed.unreadCount(userID: caller.userID)
        let (entries, hasMore) = try await page
        return NotificationPage(notifications: entries.map(\.view), unreadCount: try await unread, nextCursor: hasMore ? entries.last?._id : nil)
    }

    public func unreadCount(_ caller: Caller) async throws -> UnreadCount {
        UnreadCount(unreadCount: try await feed.unreadCount(userID: caller.userID))
    }

    /// Marks one of my notifications read (again: no change); someone else's is 404.
    public func markRead(_ caller: Caller, id: String) async throws -> NotificationView {
        guard id.count <= 64, let entry = try await feed.markRead(id, userID: caller.userID, at: Date()) else {
            throw DomainError.notFound("notification '\(id)'")
        }
        return entry.view
    }

    public func markAllRead(_ caller: Caller) async throws -> ReadAll {
        let updated = try await feed.markAllRead(userID: caller.userID, at: Date())
        return ReadAll(updated: updated, unreadCount: try await feed.unreadCount(userID: caller.userID))
    }

    // MARK: preferences

    /// A PUT body: what is absent takes its default (the whole document is replaced).
    public struct PreferencesInput: Codable, Sendable {
        public var channels: [String: [String: Bool]]?
        public var timeZone: String?
        public var quietHours: QuietHours?
        public var locale: String?
    }

    public func preferences(_ caller: Caller) async throws -> NotificationPreferences {
        try await preferences(of: caller.userID)
    }

    public func replacePreferences(_ caller: Caller, _ input: PreferencesInput) async throws -> NotificationPreferences {
        let preferences = try NotificationPreferences(channels: input.channels ?? [:], timeZone: input.timeZone ?? "UTC", quietHours: input.quietHours,
                                                      locale: input.locale ?? settings.defaultLocale).validated()
        try await self.preferences.save(preferences, for: caller.userID, at: Date())
        return preferences
    }

    // MARK: devices

    public struct DeviceInput: Codable, Sendable {
        public var platform: String
        public var token: String
        public var appVersion: String?

        public init(platform: String, token: String, appVersion: String? = nil) {
            self.platform = platform
            self.token = token
            self.appVersion = appVersion
        }
    }

    /// Registers (or takes over, and enables again) the device with this push token.
    public func registerDevice(_ caller: Caller, _ input: DeviceInput) async throws -> (device: DeviceView, created: Bool) {
        guard let platform = Device.Platform(rawValue: input.platform) else {
            throw DomainError.validation("platform: expected one of \(Device.Platform.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let token = input.token.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !token.isEmpty else { throw DomainError.validation("token: must not be empty") }
        // APNs tokens are hex, FCM tokens URL-safe text: printable ASCII without spaces covers both.
        guard token.utf8.count <= 4_096, token.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw DomainError.validation("token: at most 4096 printable ASCII characters, no spaces")
        }
        if let version = input.appVersion, version.count > 32 { throw DomainError.validation("appVersion: at most 32 characters") }
        guard let pushRegistry else {
            throw DomainError(kind: .unavailable, code: "push_unavailable", title: "Push notifications are not configured", retryAfter: 60)
        }
        let existing = try await devices.find(token: token)
        let endpoint = try await pushRegistry.register(platform: platform, token: token, userID: caller.userID)
        let now = Date()
        let device = Device(_id: existing?._id ?? UUID().uuidString.lowercased(), userId: caller.userID, platform: platform, token: token,
                            appVersion: input.appVersion, endpointArn: endpoint, enabled: true, disabledAt: nil,
                            createdAt: existing?.createdAt ?? now, updatedAt: now)
        let stored = try await devices.upsert(device)
        return (stored.view, existing == nil || existing?.userId != caller.userID)
    }

    public func myDevices(_ caller: Caller) async throws -> [DeviceView] {
        try await devices.devices(of: caller.userID).map(\.view)
    }

    public func deleteDevice(_ caller: Caller, id: String) async throws {
        guard id.count <= 64, let device = try await devices.delete(id, userID: caller.userID) else { throw DomainError.notFound("device '\(id)'") }
        // The device is gone either way; an endpoint left behind is only an unused record.
        try? await pushRegistry?.unregister(endpoint: device.endpointArn)
    }

    // MARK: erasure

    /// A deleted account: its feed, devices (and their push endpoints) and preferences go; the
    /// delivery log keeps ids and statuses only, no content.
    public func erase(userID: String) async throws {
        try await feed.deleteAll(userID: userID)
        for device in try await devices.deleteAll(userID: userID) { try? await pushRegistry?.unregister(endpoint: device.endpointArn) }
        try await preferences.delete(userID)
    }

    // MARK: admin

    public func deliveryLog(_ caller: Caller, userID: String, limit: Int) async throws -> [DeliveryView] {
        guard caller.role == .admin else { throw DomainError.forbidden }
        return try await deliveries.log(userID: userID, limit: limit).map(\.view)
    }
}
