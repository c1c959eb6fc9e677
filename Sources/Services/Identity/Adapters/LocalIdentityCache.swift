import Foundation
import MarketplaceContracts
import MarketplaceRedis
import Metrics
import Synchronization

/// Sessions this process found standing in Redis a moment ago, and the user views it read there,
/// so that the requests of a busy session do not each ask Redis again (`SessionStore.isActive`,
/// `UserViewCache.json`). A change of a view is announced like a revocation and acknowledged
/// alike, so a change answered on one node is what every node serves next.
///
/// What keeps it honest is the revocation feed (docs/decisions/0007-session-cache.md), followed as
/// a `RedisSubscriptionListener`: every revocation removes its sessions here as the message
/// arrives and is then acknowledged, and the revoking process answers only once every cache
/// acknowledged (or `maxAge` passed, when no entry from before the revocation can be left), so a
/// revoked token is refused on the very next request on every node. While the feed is down
/// nothing is remembered and nothing remembered is used.
///
/// Races with a check in flight: a check reads the session's state in Redis, then remembers it.
/// A revocation that lands in between must win, so a check takes a `Ticket` before asking Redis
/// and its answer is only remembered when no revocation and no gap came since; the entry's age
/// counts from the ticket, which is before Redis answered.
final class LocalIdentityCache: RedisSubscriptionListener {
    struct Ticket: Sendable {
        fileprivate let epoch: UInt64
        fileprivate let taken: ContinuousClock.Instant
    }

    /// What a process publishes for the caches: a revocation or a changed view, and the id to acknowledge.
    struct Notice: Codable, Sendable {
        var id: String
        var revocation: SessionRevocation?
        /// The user whose view changed.
        var viewChanged: String?
    }

    /// Revocations for the caches (the gateway follows `session-revocations`, unacknowledged).
    static let noticeChannel = "session-revocations:caches"
    /// Every cache's acknowledgements (payload: the notice's id).
    static let acknowledgementChannel = "session-revocations:acks"

    private struct Entry {
        var userID: String
        var confirmed: ContinuousClock.Instant
    }

    private struct View {
        var json: [UInt8]
        var confirmed: ContinuousClock.Instant
    }

    private struct State {
        var following = false
        /// Advances at every revocation, every changed view and every gap of the feed.
        var epoch: UInt64 = 0
        var entries: [String: Entry] = [:]
        var views: [String: View] = [:]
    }

    let maxAge: Duration
    private let capacity: Int
    /// Views are larger than session entries: fewer of them.
    private let viewCapacity: Int
    private let state = Mutex(State())
    /// The acknowledgements of this process's own revocations, heard on the feed.
    let acknowledgements = RevocationAcknowledgements()
    /// Sends the acknowledgement of a notice (off the feed's thread: it is a Redis command).
    private let acknowledge: @Sendable (String) -> Void
    private let hits = Counter(label: "identity_session_checks_total", dimensions: [("answer", "remembered")])
    private let misses = Counter(label: "identity_session_checks_total", dimensions: [("answer", "redis")])

    private let viewHits = Counter(label: "identity_view_reads_total", dimensions: [("answer", "remembered")])
    private let viewMisses = Counter(label: "identity_view_reads_total", dimensions: [("answer", "redis")])

    init(maxAge: Duration, capacity: Int = 100_000, viewCapacity: Int = 10_000, acknowledge: @escaping @Sendable (String) -> Void) {
        self.maxAge = maxAge
        self.capacity = capacity
        self.viewCapacity = viewCapacity
        self.acknowledge = acknowledge
    }

    /// Whether `sessionID` was confirmed less than `maxAge` ago and not revoked since.
    func remembers(_ sessionID: String, now: ContinuousClock.Instant = .now) -> Bool {
        let known = state.withLock { state in
            guard state.following, let entry = state.entries[sessionID] else { return false }
            return now - entry.confirmed < maxAge
        }
        (known ? hits : misses).increment()
        return known
    }

    /// Taken before asking Redis; nil while the feed is down (then nothing is remembered).
    func ticket() -> Ticket? {
        state.withLock { $0.following ? Ticket(epoch: $0.epoch, taken: .now) : nil }
    }

    /// Remembers a session Redis said is standing, unless a revocation or a gap came after the
    /// ticket was taken (the answer may predate it).
    func confirm(_ sessionID: String, userID: String, ticket: Ticket) {
        state.withLock { state in
            guard state.following, state.epoch == ticket.epoch else { return }
            makeRoom(in: &state.entries, capacity: capacity, at: ticket.taken) { $0.confirmed }
            state.entries[sessionID] = Entry(userID: userID, confirmed: ticket.taken)
        }
    }

    /// The view's JSON if it was read less than `maxAge` ago and has not changed since.
    func rememberedView(_ userID: String, now: ContinuousClock.Instant = .now) -> [UInt8]? {
        let json: [UInt8]? = state.withLock { state in
            guard state.following, let view = state.views[userID], now - view.confirmed < maxAge else { return nil }
            return view.json
        }
        (json == nil ? viewMisses : viewHits).increment()
        return json
    }

    /// Remembers a view read from Redis, unless anything changed after the ticket was taken.
    func keepView(_ userID: String, json: [UInt8], ticket: Ticket) {
        state.withLock { state in
            guard state.following, state.epoch == ticket.epoch else { return }
            makeRoom(in: &state.views, capacity: viewCapacity, at: ticket.taken) { $0.confirmed }
            state.views[userID] = View(json: json, confirmed: ticket.taken)
        }
    }

    /// Room for one more: a full table loses what is past its age, and everything if all is current.
    private func makeRoom<Value>(in table: inout [String: Value], capacity: Int, at now: ContinuousClock.Instant,
                                 confirmed: (Value) -> ContinuousClock.Instant) {
        guard table.count >= capacity else { return }
        table = table.filter { now - confirmed($0.value) < maxAge }
        if table.count >= capacity { table.removeAll(keepingCapacity: true) }
    }

    /// Forgets a user's view (it changed).
    func forgetView(_ userID: String) {
        state.withLock { state in
            state.epoch &+= 1
            state.views[userID] = nil
        }
    }

    /// Forgets the revoked session (or every session of the user).
    func revoke(_ revocation: SessionRevocation) {
        state.withLock { state in
            state.epoch &+= 1
            if let sessionID = revocation.sessionID {
                state.entries[sessionID] = nil
            } else {
                state.entries = state.entries.filter { $0.value.userID != revocation.userID }
            }
        }
    }

    // MARK: the feed (its reading thread)

    func subscribed() {
        state.withLock { state in
            state.following = true
            state.epoch &+= 1
        }
    }

    func lost() {
        state.withLock { state in
            state.following = false
            state.epoch &+= 1
            state.entries.removeAll()
            state.views.removeAll()
        }
    }

    func received(_ message: RedisPubSubMessage) {
        if message.channel == Self.acknowledgementChannel {
            acknowledgements.received(message.text)
            return
        }
        guard let notice = try? JSONDecoder().decode(Notice.self, from: Data(message.payload)) else {
            // A revocation nobody can read could be any session's: forget them all (its sender
            // waits out `maxAge` for want of the acknowledgement).
            lost()
            subscribed()
            return
        }
        if let revocation = notice.revocation { revoke(revocation) }
        if let userID = notice.viewChanged { forgetView(userID) }
        acknowledge(notice.id)
    }
}
