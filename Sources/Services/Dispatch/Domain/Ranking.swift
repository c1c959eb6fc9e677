import Foundation
import MarketplaceContracts

/// The documented dispatch score (docs/dispatch.md). Lower is better; every term is in 0...1
/// before its weight:
///
///     score = 1.0 × distanceKm / radiusKm
///           + 0.5 × (5 − rating) / 4                  (no rating yet: counted as 4.0)
///           + 0.3 × (1 − acceptanceRate)
///           + 0.2 × min(1, max(0, hourlyRate − budget) / budget)   (same currency only, else 0)
///
/// so distance dominates, a 1-star gap costs as much as an eighth of the radius, and a provider
/// whose hourly rate is twice the budget loses about as much as one a fifth of the radius further.
/// Ties go to the nearer provider, then to the smaller id (deterministic).
public struct Ranking: Sendable {
    public var distanceWeight = 1.0
    public var ratingWeight = 0.5
    public var acceptanceWeight = 0.3
    public var priceWeight = 0.2

    public init() {}

    /// Acceptance with a prior of 4 accepted out of 5, so that one declined offer does not bury a
    /// newcomer and a newcomer does not outrank a proven provider.
    public static func acceptanceRate(offered: Int, accepted: Int) -> Double {
        (Double(accepted) + 4) / (Double(offered) + 5)
    }

    public func score(_ candidate: CandidateSignals, radiusKm: Double, budget: Money?) -> Double {
        let distance = min(1, candidate.distanceKm / max(radiusKm, 0.001))
        let rating = (5 - min(5, max(1, candidate.rating ?? 4))) / 4
        let acceptance = 1 - min(1, max(0, candidate.acceptanceRate))
        var price = 0.0
        if let limit = budget?.amount, let budget, limit > 0, let rate = candidate.hourlyRate, candidate.currency == budget.currency, rate > limit {
            price = min(1, NSDecimalNumber(decimal: (rate - limit) / limit).doubleValue)
        }
        return distanceWeight * distance + ratingWeight * rating + acceptanceWeight * acceptance + priceWeight * price
    }

    public func rank(_ candidates: [CandidateSignals], radiusKm: Double, budget: Money?) -> [CandidateSignals] {
        candidates.map { (candidate: $0, score: score($0, radiusKm: radiusKm, budget: budget)) }
            .sorted { ($0.score, $0.candidate.distanceKm, $0.candidate.providerId) < ($1.score, $1.candidate.distanceKm, $1.candidate.providerId) }
            .map(\.candidate)
    }
}
