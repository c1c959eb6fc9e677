import Foundation
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplacePlatform

struct GatewayNotReady: Error, CustomStringConvertible {
    var description: String { "not listening or not yet reading the fan-out topic" }
}
