import Foundation
import MarketplaceContracts

/// What happens to a payment when its request or job moves (docs/payments.md, "Policy", the
/// version below). Pure: the worker applies the decision.
///
/// | event | decision |
/// |---|---|
/// | request cancelled while searching, request unfulfilled | void the hold |
/// | job cancelled without a fee (before `en_route`, or by the provider or an admin) | void the hold |
/// | job cancelled by the client after `en_route` (Dispatch's fee) | capture the fee, release the rest |
/// | job completed (`finalAmount`, else the hold) | capture it, release the rest |
///
/// Every capture is split by `takeRate` between the provider and the platform.
public struct PaymentPolicy: Sendable, Equatable {
    public static let version = "2026-12-02"

    public enum Decision: Sendable, Equatable {
        case void(reason: String)
        case capture(Money, reason: String)
        case none
    }

    /// The platform's share of every capture (0.15 = 15 %).
    public var takeRate: Decimal
    /// An authorized hold whose request Dispatch never created (it failed after the hold) is
    /// voided after this long.
    public var unclaimedHoldAfter: TimeInterval

    public init(takeRate: Decimal = Decimal(string: "0.15")!, unclaimedHoldAfter: TimeInterval = 600) {
        self.takeRate = takeRate
        self.unclaimedHoldAfter = unclaimedHoldAfter
    }

    /// A request-side event. A request cancelled through its job is decided by the job's event.
    public func decide(requestCancelled event: DispatchEvents.RequestCancelled) -> Decision {
        event.jobId == nil ? .void(reason: "request_cancelled") : .none
    }

    public func decideUnfulfilled() -> Decision { .void(reason: "request_unfulfilled") }

    public func decide(_ change: DispatchEvents.JobStatusChanged, hold: Money) -> Decision {
        switch change.to {
        case .cancelled:
            if let fee = change.fee, fee.amount > 0 { return .capture(fee, reason: "cancellation_fee") }
            return .void(reason: "job_cancelled")
        case .completed:
            return .capture(change.finalAmount ?? hold, reason: "job_completed")
        default:
            return .none
        }
    }

    /// The platform's fee on a capture, and the provider's share (they add up to the capture).
    public func split(_ capture: Money) -> (fee: Money, provider: Money) {
        let fee = capture.times(takeRate)
        return (fee, capture - fee)
    }
}
