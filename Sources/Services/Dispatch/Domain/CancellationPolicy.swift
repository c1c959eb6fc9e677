import Foundation
import MarketplaceContracts

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
