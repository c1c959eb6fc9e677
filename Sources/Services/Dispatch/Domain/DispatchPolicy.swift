import Foundation
import MarketplaceContracts

/// How offers go out: waves of the best few, each for a limited time, widening the radius until
/// someone accepts or the deadline passes (then the request is `unfulfilled`). With payments,
/// a request without a budget in a category without a default hold is held for `defaultHold`
/// (in the cancellation policy's default currency).
public struct DispatchPolicy: Sendable {
    public var waveSize: Int
    public var firstRadiusKm: Double
    public var maxRadiusKm: Double
    public var offerLifetime: TimeInterval
    public var deadline: TimeInterval
    public var defaultHold: Decimal

    public init(waveSize: Int = 3, firstRadiusKm: Double = 10, maxRadiusKm: Double = 40, offerLifetime: TimeInterval = 20, deadline: TimeInterval = 180,
                defaultHold: Decimal = 50) {
        self.defaultHold = defaultHold
        self.waveSize = waveSize
        self.firstRadiusKm = firstRadiusKm
        self.maxRadiusKm = maxRadiusKm
        self.offerLifetime = offerLifetime
        self.deadline = deadline
    }
}
