import Foundation

/// Whose figures a bucket holds.
public enum MetricScope: Sendable, Hashable {
    case provider(String)
    case category(String)
    case area(String)
    case platform

    public var key: String {
        switch self {
        case .provider(let id): "provider:\(id)"
        case .category(let slug): "category:\(slug)"
        case .area(let geohash): "area:\(geohash)"
        case .platform: "platform"
        }
    }
}

public enum Granularity: String, Codable, Sendable, CaseIterable {
    case hour, day, week

    /// What is stored: hours and days; weeks are read from days.
    var stored: Granularity { self == .week ? .day : self }
}

/// One bucket's key: a scope, a granularity and where the bucket starts — an hour, or a
/// midnight in the scope's time zone (a provider's own; UTC for the others).
public struct BucketKey: Sendable, Hashable {
    public var scope: MetricScope
    public var granularity: Granularity
    public var start: Date

    public var id: String { "\(scope.key)|\(granularity.rawValue)|\(Int(start.timeIntervalSince1970))" }

    /// The hour and the day bucket `time` falls in.
    public static func keys(for scope: MetricScope, at time: Date, timeZone: TimeZone) -> [BucketKey] {
        [BucketKey(scope: scope, granularity: .hour, start: Self.start(of: .hour, containing: time, in: timeZone)),
         BucketKey(scope: scope, granularity: .day, start: Self.start(of: .day, containing: time, in: timeZone))]
    }

    public static func start(of granularity: Granularity, containing time: Date, in timeZone: TimeZone) -> Date {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        switch granularity {
        case .hour: return calendar.dateInterval(of: .hour, for: time)?.start ?? time
        case .day: return calendar.startOfDay(for: time)
        case .week: return calendar.dateInterval(of: .weekOfYear, for: time)?.start ?? time  // Mondays (ISO 8601)
        }
    }

    /// Every bucket start from the one containing `from` up to `to` (exclusive), for zero-filling.
    public static func starts(of granularity: Granularity, from: Date, to: Date, in timeZone: TimeZone) -> [Date] {
        var calendar = Calendar(identifier: .iso8601)
        calendar.timeZone = timeZone
        let component: Calendar.Component = switch granularity { case .hour: .hour; case .day: .day; case .week: .weekOfYear }
        var starts: [Date] = []
        var current = start(of: granularity, containing: from, in: timeZone)
        while current < to && starts.count < 10_000 {
            starts.append(current)
            guard let next = calendar.date(byAdding: component, value: 1, to: current) else { break }
            current = next
        }
        return starts
    }
}

/// What events add to one bucket: counters, money sums in minor units per currency (exact, and
/// additive with `$inc`), latency histograms and sets of distinct ids (online providers).
public struct BucketDelta: Sendable, Equatable {
    public var counters: [String: Int] = [:]
    public var sums: [String: Int] = [:]
    public var histograms: [String: LatencyHistogram] = [:]
    public var sets: [String: Set<String>] = [:]

    public init(counters: [String: Int] = [:]) { self.counters = counters }

    public mutating func merge(_ other: BucketDelta) {
        for (name, value) in other.counters { counters[name, default: 0] += value }
        for (name, value) in other.sums { sums[name, default: 0] += value }
        for (name, histogram) in other.histograms { histograms[name, default: LatencyHistogram()].merge(histogram) }
        for (name, members) in other.sets { sets[name, default: []].formUnion(members) }
    }

    public var isEmpty: Bool { counters.isEmpty && sums.isEmpty && histograms.isEmpty && sets.isEmpty }
}

/// A stored bucket as read back (`analytics_buckets`).
public struct MetricBucket: Codable, Sendable, Equatable {
    public var _id: String
    public var scope: String
    public var granularity: Granularity
    public var start: Date
    public var counters: [String: Int]?
    public var sums: [String: Int]?
    public var histograms: [String: [String: Int]]?
    public var sets: [String: [String]]?

    /// What the bucket holds, as a delta over nothing (to merge buckets as batches merge deltas).
    public var delta: BucketDelta {
        var delta = BucketDelta()
        delta.counters = counters ?? [:]
        delta.sums = sums ?? [:]
        delta.histograms = (histograms ?? [:]).mapValues { LatencyHistogram(bins: $0) }
        delta.sets = (sets ?? [:]).mapValues(Set.init)
        return delta
    }
}
