import Foundation
import MarketplaceContracts

public struct PostalAddress: Codable, Sendable, Equatable {
    public var label: String?
    public var line1: String
    public var city: String
    public var postalCode: String?
    public var country: String
}
