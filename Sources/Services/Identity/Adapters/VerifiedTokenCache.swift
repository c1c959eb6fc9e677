import Foundation
import HummingbirdBcrypt
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo
import MarketplaceRedis
import NIOPosix
import Synchronization

/// Tokens whose signature and claims were already checked, until they expire: an ES256
/// verification costs more than the rest of a cached read. Bounded; a signed token cannot change,
/// so remembering the result is safe (the session check still runs every time).
public final class VerifiedTokenCache: Sendable {
    private struct Entry { var caller: Caller; var expires: Date }
    private let entries = Mutex<[String: Entry]>([:])
    private let capacity: Int

    public init(capacity: Int = 50_000) { self.capacity = capacity }

    func caller(for token: String) -> Caller? {
        entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            guard entry.expires > Date() else { entries[token] = nil; return nil }
            return entry.caller
        }
    }

    func remember(_ token: String, caller: Caller, until expires: Date) {
        entries.withLock { entries in
            if entries.count >= capacity {
                let now = Date()
                entries = entries.filter { $0.value.expires > now }
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[token] = Entry(caller: caller, expires: expires)
        }
    }
}
