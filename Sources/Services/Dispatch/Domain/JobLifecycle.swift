import Foundation
import MarketplaceContracts

/// A job's state machine (no I/O): the assigned provider moves it forward one step at a time,
/// `assigned → en_route → arrived → in_progress → completed`; the client or the provider may
/// cancel it while it is active. Completed and cancelled are final.
extension JobStatus {
    /// The only status a provider may move the job to from here; nil when the job is final.
    public var next: Job.Status? {
        switch self {
        case .assigned: .enRoute
        case .enRoute: .arrived
        case .arrived: .inProgress
        case .inProgress: .completed
        case .completed, .cancelled: nil
        }
    }

    /// The provider has set off: a client cancelling from here owes the cancellation fee.
    public var providerSetOff: Bool { self == .enRoute || self == .arrived || self == .inProgress }
}

/// The cancellation fee policy (docs/dispatch.md):
/// - a client who cancels after the provider set off (`en_route`, `arrived`, `in_progress`) owes
///   `flatFee`, in the request's budget currency and never more than the budget; without a budget
///   in `defaultCurrency`;
/// - cancelling while the job is `assigned` costs nothing;
/// - a provider or an admin cancelling never charges the client.
public struct CancellationPolicy: Sendable {
    public var flatFee: Decimal
    public var defaultCurrency: String

    public init(flatFee: Decimal = 5, defaultCurrency: String = "EUR") {
        self.flatFee = flatFee
        self.defaultCurrency = defaultCurrency
    }

    public func fee(cancelledBy actor: JobActor, from status: Job.Status, budget: Money?) -> Money? {
        guard actor == .client, status.providerSetOff else { return nil }
        var amount = flatFee
        if let budget { amount = min(amount, budget.amount) }
        return Money(amount: amount, currency: budget?.currency ?? defaultCurrency)
    }
}
