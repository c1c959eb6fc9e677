import Hummingbird
import Logging
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import ServiceLifecycle

/// What a built worker is.
public enum ModuleWorker {
    case consumer(ConsumerWorker)
    case service(any Service)
}
