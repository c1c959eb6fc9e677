import Foundation
import MarketplaceContracts

/// A job offered to one provider for one request. Offers go out in waves; exactly one can be
/// accepted per request (compare-and-set on the request), the others are withdrawn.
public struct Offer: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case pending, accepted, declined, withdrawn, expired }
    public var _id: String
    public var requestId: String
    public var providerId: String
    public var clientId: String
    public var categoryId: String
    public var wave: Int
    public var distanceKm: Double
    public var status: Status
    public var expiresAt: Date
    public var createdAt: Date

    public var view: OfferView {
        OfferView(id: _id, requestId: requestId, categoryId: categoryId, wave: wave, distanceKm: distanceKm, status: status, expiresAt: expiresAt)
    }
}

public struct OfferView: Codable, Sendable, Equatable {
    public var id: String
    public var requestId: String
    public var categoryId: String
    public var wave: Int
    public var distanceKm: Double
    public var status: Offer.Status
    public var expiresAt: Date
}
