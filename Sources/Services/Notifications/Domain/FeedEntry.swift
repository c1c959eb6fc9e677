import Foundation

/// One notification in a user's in-app feed (`notifications`). Ids sort by creation time, so
/// the feed's cursor is the last id seen.
public struct FeedEntry: Codable, Sendable, Equatable {
    public var _id: String
    public var userId: String
    public var kind: NotificationKind
    public var category: NotificationCategory
    public var title: String
    public var body: String
    public var jobId: String?
    public var data: [String: String]
    public var critical: Bool
    /// The domain event it came from.
    public var eventId: String
    public var createdAt: Date
    public var readAt: Date?

    public var view: NotificationView {
        NotificationView(id: _id, kind: kind.rawValue, category: category.rawValue, title: title, body: body, jobId: jobId, data: data,
                         critical: critical, read: readAt != nil, readAt: readAt, createdAt: createdAt)
    }

    /// A time-ordered id: milliseconds since 1970 in hex, then randomness.
    public static func makeID(at date: Date = Date()) -> String {
        let millis = UInt64(max(0, date.timeIntervalSince1970 * 1000))
        let hex = String(millis, radix: 16)
        return "n" + String(repeating: "0", count: max(0, 12 - hex.count)) + hex + String(UInt64.random(in: 0..<(1 << 48)), radix: 16)
    }
}

public struct NotificationView: Codable, Sendable, Equatable {
    public var id: String
    public var kind: String
    public var category: String
    public var title: String
    public var body: String
    public var jobId: String?
    public var data: [String: String]
    public var critical: Bool
    public var read: Bool
    public var readAt: Date?
    public var createdAt: Date
}

public struct NotificationPage: Codable, Sendable, Equatable {
    public var notifications: [NotificationView]
    public var unreadCount: Int
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    public var nextCursor: String?
}
