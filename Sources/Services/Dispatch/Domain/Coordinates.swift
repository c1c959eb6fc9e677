import Foundation
import MarketplaceContracts

/// A point on Earth, validated.
public struct Coordinates: Codable, Sendable, Equatable {
    public var lat: Double
    public var lng: Double

    public init(lat: Double, lng: Double) {
        self.lat = lat
        self.lng = lng
    }

    /// Why these are not coordinates, or nil. (Redis GEO accepts latitudes up to ±85.05.)
    public var problem: String? {
        guard lat.isFinite, lng.isFinite else { return "lat and lng must be numbers" }
        guard (-85.05112878...85.05112878).contains(lat) else { return "lat must be between -85.05 and 85.05" }
        guard (-180...180).contains(lng) else { return "lng must be between -180 and 180" }
        return nil
    }
}
