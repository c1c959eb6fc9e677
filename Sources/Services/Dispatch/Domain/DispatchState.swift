import Foundation
import MarketplaceContracts

/// Where a request's dispatch stands, persisted so that wave timers survive a worker restart and
/// any instance can advance them (a compare-and-set on `wave` keeps two from doing it twice).
struct DispatchState: Codable, Sendable {
    var _id: String  // request id
    var clientId: String
    var categoryId: String
    var lat: Double
    var lng: Double
    var budget: Money?
    var wave: Int
    var radiusKm: Double
    var offered: [String]
    var nextWaveAt: Date
    var deadline: Date
    var status: String  // active | done
}
