import Foundation
import MarketplaceContracts

/// What a user wants: per category and channel on or off, a time zone, quiet hours and a locale.
/// Account e-mails (password reset, security) cannot be turned off.
public struct NotificationPreferences: Codable, Sendable, Equatable {
    public var channels: [String: [String: Bool]]
    public var timeZone: String
    public var quietHours: QuietHours?
    public var locale: String

    public static let supportedLocales = ["pt-BR", "en"]

    public init(channels: [String: [String: Bool]] = Self.defaultChannels, timeZone: String = "UTC", quietHours: QuietHours? = nil, locale: String = "pt-BR") {
        self.channels = channels
        self.timeZone = timeZone
        self.quietHours = quietHours
        self.locale = locale
    }

    /// Everything useful on; marketing only in the app (opt-in elsewhere, as LGPD and GDPR expect).
    public static var defaultChannels: [String: [String: Bool]] {
        var result: [String: [String: Bool]] = [:]
        for category in NotificationCategory.allCases {
            var row: [String: Bool] = [:]
            for channel in NotificationChannel.allCases {
                switch (category, channel) {
                case (.marketing, .inApp): row[channel.rawValue] = true
                case (.marketing, _): row[channel.rawValue] = false
                case (.jobs, .email), (.chat, .email), (.chat, .sms), (.payments, .sms), (.account, .sms): row[channel.rawValue] = false
                default: row[channel.rawValue] = true
                }
            }
            result[category.rawValue] = row
        }
        return result
    }

    public func allows(_ category: NotificationCategory, _ channel: NotificationChannel) -> Bool {
        if category == .account && channel == .email { return true }
        return channels[category.rawValue]?[channel.rawValue] ?? Self.defaultChannels[category.rawValue]?[channel.rawValue] ?? false
    }

    /// When quiet hours that hold `date` end (nil when `date` is not in quiet hours).
    public func quietHoursEnd(after date: Date) -> Date? {
        guard let quietHours, let zone = TimeZone(identifier: timeZone) else { return nil }
        return quietHours.end(containing: date, in: zone)
    }

    /// Checks a preferences document as a client sent it; the error names the field.
    public func validated() throws -> NotificationPreferences {
        for (category, row) in channels {
            guard let known = NotificationCategory(rawValue: category) else {
                throw DomainError.validation("channels.\(category): unknown category (expected one of \(NotificationCategory.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            for (channel, enabled) in row {
                guard NotificationChannel(rawValue: channel) != nil else {
                    throw DomainError.validation("channels.\(category).\(channel): unknown channel (expected one of \(NotificationChannel.allCases.map(\.rawValue).joined(separator: ", ")))")
                }
                if known == .account && channel == NotificationChannel.email.rawValue && !enabled {
                    throw DomainError.validation("channels.account.email: account and security e-mails cannot be turned off")
                }
            }
        }
        guard TimeZone(identifier: timeZone) != nil else { throw DomainError.validation("timeZone: '\(timeZone)' is not an IANA time zone") }
        guard Self.supportedLocales.contains(locale) else {
            throw DomainError.validation("locale: expected one of \(Self.supportedLocales.joined(separator: ", "))")
        }
        if let quietHours {
            guard QuietHours.minutes(quietHours.start) != nil else { throw DomainError.validation("quietHours.start: expected HH:mm") }
            guard QuietHours.minutes(quietHours.end) != nil else { throw DomainError.validation("quietHours.end: expected HH:mm") }
        }
        // Unset cells keep their defaults: the stored document is always complete.
        var merged = Self.defaultChannels
        for (category, row) in channels { for (channel, enabled) in row { merged[category, default: [:]][channel] = enabled } }
        var result = self
        result.channels = merged
        // An empty window (start = end) is no quiet hours.
        if let quietHours, quietHours.start == quietHours.end { result.quietHours = nil }
        return result
    }
}

/// A daily window in the user's time zone, `HH:mm` to `HH:mm`; it may cross midnight (22:00–07:00).
public struct QuietHours: Codable, Sendable, Equatable {
    public var start: String
    public var end: String

    public init(start: String, end: String) {
        self.start = start
        self.end = end
    }

    static func minutes(_ text: String) -> Int? {
        let parts = text.split(separator: ":")
        guard parts.count == 2, parts[0].count == 2, parts[1].count == 2, let hours = Int(parts[0]), let minutes = Int(parts[1]),
              (0..<24).contains(hours), (0..<60).contains(minutes) else { return nil }
        return hours * 60 + minutes
    }

    /// The end of the window that holds `date`, or nil when `date` is outside it.
    public func end(containing date: Date, in zone: TimeZone) -> Date? {
        guard let start = Self.minutes(start), let end = Self.minutes(end) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        let parts = calendar.dateComponents([.hour, .minute], from: date)
        let now = (parts.hour ?? 0) * 60 + (parts.minute ?? 0)
        let inside = start < end ? (now >= start && now < end) : (now >= start || now < end)
        guard inside else { return nil }
        let startOfDay = calendar.startOfDay(for: date)
        // The end today if it is still ahead, otherwise tomorrow's.
        var candidate = calendar.date(byAdding: .minute, value: end, to: startOfDay)!
        if candidate <= date { candidate = calendar.date(byAdding: .day, value: 1, to: candidate)! }
        return candidate
    }
}
