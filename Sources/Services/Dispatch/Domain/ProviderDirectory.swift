import Foundation
import MarketplaceContracts

/// Which categories a provider offers. In this phase read from the Identity service's
/// `provider_profiles` collection in the shared database; a projection fed by
/// `provider.profile-updated` events can replace it without touching the use cases.
public protocol ProviderDirectory: Sendable {
    func categories(ofProvider id: String) async throws -> [String]?
}
