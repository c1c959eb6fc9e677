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
