import Foundation
import MarketplaceContracts

/// What matching knows about one candidate provider.
public struct CandidateSignals: Sendable, Equatable {
    public var providerId: String
    public var distanceKm: Double
    /// Average review rating, 1-5; nil until the provider has one.
    public var rating: Double?
    /// Offers accepted / offers received, smoothed (see `Ranking.acceptanceRate`).
    public var acceptanceRate: Double
    public var hourlyRate: Decimal?
    public var currency: String?

    public init(providerId: String, distanceKm: Double, rating: Double? = nil, acceptanceRate: Double = Ranking.acceptanceRate(offered: 0, accepted: 0),
                hourlyRate: Decimal? = nil, currency: String? = nil) {
        self.providerId = providerId
        self.distanceKm = distanceKm
        self.rating = rating
        self.acceptanceRate = acceptanceRate
        self.hourlyRate = hourlyRate
        self.currency = currency
    }
}
