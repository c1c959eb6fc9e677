import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// Who gets the next wave of offers: online providers of the category within the radius (Redis
/// GEO index), minus those already offered this request and those busy on an active job, ranked
/// by the documented score (Domain/Ranking.swift) with their rating, price and acceptance rate.
extension DispatchService {
    struct RankingProfile: Codable, Sendable {
        struct Pricing: Codable, Sendable { var currency: String; var hourlyRate: Decimal128 }
        var _id: String
        var pricing: Pricing?
        var rating: Double?
    }

    func candidates(category: String, at point: Coordinates, radiusKm: Double, budget: Money?, excluding: Set<String>,
                    index: ProviderPresenceIndex, now: Date) async throws -> [ProviderPresenceIndex.Nearby] {
        // Over-fetch: some of the nearest may be excluded or busy, and ranking may reorder them.
        let nearby = try await index.nearby(category: category, at: point, radiusKm: radiusKm,
                                            limit: policy.waveSize * 4 + excluding.count, now: now)
            .filter { !excluding.contains($0.providerId) }
        guard !nearby.isEmpty else { return [] }
        let ids = BSONValue.array(nearby.map { .string($0.providerId) })
        async let profiles = mongo.collection(ProviderProfilesReadModel.collectionName, as: RankingProfile.self).find(["_id": ["$in": ids]])
        async let stats = offerStats.stats(of: nearby.map(\.providerId))
        async let busy = jobs.busy(among: nearby.map(\.providerId))
        let profileByID = Dictionary(try await profiles.map { ($0._id, $0) }, uniquingKeysWith: { first, _ in first })
        let statsByID = try await stats
        let busyIDs = try await busy
        let signals = nearby.filter { !busyIDs.contains($0.providerId) }.map { provider in
            let profile = profileByID[provider.providerId]
            let stat = statsByID[provider.providerId]
            return CandidateSignals(providerId: provider.providerId, distanceKm: provider.distanceKm, rating: profile?.rating,
                                    acceptanceRate: Ranking.acceptanceRate(offered: stat?.offered ?? 0, accepted: stat?.accepted ?? 0),
                                    hourlyRate: profile?.pricing?.hourlyRate.decimal, currency: profile?.pricing?.currency)
        }
        let byID = Dictionary(nearby.map { ($0.providerId, $0) }, uniquingKeysWith: { first, _ in first })
        return ranking.rank(signals, radiusKm: radiusKm, budget: budget).prefix(policy.waveSize).compactMap { byID[$0.providerId] }
    }
}
