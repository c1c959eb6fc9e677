import Foundation
import MarketplaceContracts
import MarketplaceMongo

/// What a provider offers. Stored in `provider_profiles` under the provider's user id.
public struct ProviderProfile: Codable, Sendable, Equatable {
    public var _id: String
    public var categories: [String]
    public var bio: String
    public var serviceRadiusKm: Double
    public var pricing: Pricing
    public var workingHours: [WorkingHours]
    /// The provider's IANA time zone (their analytics' days); nil: UTC.
    public var timeZone: String?
    public var updatedAt: Date
    /// Kept by the Dispatch service's rating projection (average of clients' visible reviews).
    public var rating: Double?
    public var ratingCount: Int?

    public struct Pricing: Codable, Sendable, Equatable {
        /// ISO 4217, e.g. "EUR".
        public var currency: String
        /// Decimal128 in MongoDB; a decimal string ("25.50") in JSON, never a float.
        public var hourlyRate: Decimal128
        public var minimumFee: Decimal128?
    }

    public struct WorkingHours: Codable, Sendable, Equatable {
        /// 0 = Monday ... 6 = Sunday.
        public var day: Int
        /// "HH:mm", local time of the provider.
        public var start: String
        public var end: String
    }
}

/// The body of `PUT /v1/providers/me/profile`.
public struct ProviderProfileInput: Codable, Sendable {
    public var categories: [String]
    public var bio: String
    public var serviceRadiusKm: Double
    public var pricing: ProviderProfile.Pricing
    public var workingHours: [ProviderProfile.WorkingHours]
    public var timeZone: String?

    /// Why the input is refused, or nil.
    public func problem() -> String? {
        if let timeZone, TimeZone(identifier: timeZone) == nil || !timeZone.contains("/") && timeZone != "UTC" {
            return "timeZone: an IANA time zone like America/Sao_Paulo"
        }
        if categories.isEmpty || categories.count > 20 { return "categories: 1 to 20 entries" }
        if categories.contains(where: { $0.range(of: "^[a-z0-9-]{1,64}$", options: .regularExpression) == nil }) {
            return "categories: lower-case slugs (a-z, 0-9, -)"
        }
        if bio.count > 2000 { return "bio: at most 2000 characters" }
        if !(0.5...200).contains(serviceRadiusKm) { return "serviceRadiusKm: 0.5 to 200" }
        if pricing.currency.range(of: "^[A-Z]{3}$", options: .regularExpression) == nil { return "pricing.currency: an ISO 4217 code like EUR" }
        guard let rate = pricing.hourlyRate.decimal, rate > 0, rate < 100_000 else { return "pricing.hourlyRate: a positive amount" }
        if let minimum = pricing.minimumFee, (minimum.decimal ?? -1) < 0 { return "pricing.minimumFee: not negative" }
        for hours in workingHours {
            let pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"
            guard (0...6).contains(hours.day), hours.start.range(of: pattern, options: .regularExpression) != nil,
                  hours.end.range(of: pattern, options: .regularExpression) != nil, hours.start < hours.end else {
                return "workingHours: day 0-6, start < end, HH:mm"
            }
        }
        _ = rate
        return nil
    }
}

/// What anyone may see of a provider.
public struct PublicProviderView: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var avatarURL: String?
    public var categories: [String]
    public var bio: String
    public var serviceRadiusKm: Double
    public var pricing: ProviderProfile.Pricing
    public var workingHours: [ProviderProfile.WorkingHours]
    public var rating: Double?
    public var ratingCount: Int?
}
