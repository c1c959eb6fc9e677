import Foundation

/// A mergeable latency histogram: counts per logarithmic bin of milliseconds, each bin 10 %
/// wider than the last. Two histograms merge by adding their counts bin by bin — which MongoDB
/// does atomically with `$inc`, batch after batch, without reading the bucket first — so the
/// p50/p90 over any range is computed from the merged buckets, never from stored averages.
/// A percentile is reported as its bin's geometric middle: at most 5 % off.
public struct LatencyHistogram: Codable, Sendable, Equatable {
    /// Bin index (as a string key, as BSON stores it) → count.
    public var bins: [String: Int]

    public init(bins: [String: Int] = [:]) { self.bins = bins }

    static let growth = 1.1

    /// The bin of a duration; 0 holds everything under a millisecond.
    public static func bin(milliseconds: Double) -> Int {
        guard milliseconds >= 1 else { return 0 }
        return 1 + Int(log(milliseconds) / log(growth))
    }

    /// The representative value of a bin (its geometric middle), in milliseconds.
    public static func value(ofBin bin: Int) -> Double {
        guard bin > 0 else { return 0.5 }
        return pow(growth, Double(bin - 1) + 0.5)
    }

    public mutating func record(milliseconds: Double) { bins[String(Self.bin(milliseconds: milliseconds)), default: 0] += 1 }

    public mutating func merge(_ other: LatencyHistogram) {
        for (bin, count) in other.bins { bins[bin, default: 0] += count }
    }

    public var count: Int { bins.values.reduce(0, +) }

    /// The `q` quantile (0.5 = median) in milliseconds; nil when empty.
    public func quantile(_ q: Double) -> Double? {
        let total = count
        guard total > 0 else { return nil }
        let rank = max(1, Int((q * Double(total)).rounded(.up)))
        var seen = 0
        for (bin, count) in bins.compactMap({ key, value in Int(key).map { ($0, value) } }).sorted(by: { $0.0 < $1.0 }) {
            seen += count
            if seen >= rank { return Self.value(ofBin: bin) }
        }
        return nil
    }
}
