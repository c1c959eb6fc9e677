import Foundation

/// One complete set of the analytics collections (inbox, facts, buckets). The live worker and the
/// queries use the current one; `marketplace analytics rebuild` fills the next from the topics and
/// switches over, so a rebuild never disturbs what dashboards read. Generation 0 is the plain
/// collection names (the aggregates from before rebuilds existed).
public struct AnalyticsGeneration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var number: Int

    public init(_ number: Int) { self.number = number }

    public static let first = AnalyticsGeneration(0)

    /// This generation's name for a collection: `analytics_buckets`, `analytics_buckets_g2`.
    public func collection(_ base: String) -> String { number == 0 ? base : "\(base)_g\(number)" }

    public var next: AnalyticsGeneration { AnalyticsGeneration(number + 1) }
    public var description: String { "g\(number)" }
    public static func < (a: Self, b: Self) -> Bool { a.number < b.number }
}
