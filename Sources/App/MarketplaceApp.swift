import MarketplaceAnalytics
import MarketplaceChat
import MarketplaceDispatch
import MarketplaceIdentity
import MarketplaceNotifications
import MarketplacePayments
import MarketplacePlatform
import MarketplaceRealtime

/// The composition: which service modules the executable has, in the order they are built (a
/// module may require the ports of those before it: Payments uses Identity's contacts, Dispatch
/// places holds through Payments, Realtime needs Identity's token verifier and Dispatch's job
/// access, Chat the job access, Notifications Identity's contacts and Realtime's presence and
/// fan-out). Adding a service is one line here
/// (docs/architecture.md, "Adding a service").
public enum MarketplaceApp {
    public static let modules: [any ServiceModule.Type] = [
        IdentityModule.self,
        PaymentsModule.self,
        DispatchModule.self,
        RealtimeModule.self,
        ChatModule.self,
        NotificationsModule.self,
        AnalyticsModule.self,
    ]

    /// Every worker `marketplace worker <name>` can run, with its summary.
    public static var workers: [(name: String, summary: String)] { Composition.workers(of: modules) }
}
