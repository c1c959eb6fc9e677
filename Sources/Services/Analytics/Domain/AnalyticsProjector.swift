import Foundation
import MarketplaceContracts

/// What one domain event adds to which buckets, at the event's own time (pure). Per provider:
/// offers received / accepted / declined / expired and the response time, jobs assigned,
/// completed and cancelled (by whom), repeat clients, ratings, earnings (gross, fee, net — the
/// payment events' own split, never recomputed). Per category, area and the platform: requests,
/// assignments (and time to match), unfulfilled, completions, cancellations by side, time to
/// arrival, GMV and platform revenue, providers online (distinct ids).
public enum AnalyticsProjector {
    public struct Contribution: Sendable, Equatable {
        public var scope: MetricScope
        public var time: Date
        public var delta: BucketDelta
    }

    /// The facts an event needs looked up before it is projected.
    public enum Lookup: Sendable, Equatable {
        case request(String), offer(String), job(String), pair(providerID: String, clientID: String)
    }

    public static func lookups(for event: EventEnvelope) throws -> [Lookup] {
        switch event.type {
        case DispatchEvents.offerAccepted, DispatchEvents.offerDeclined, DispatchEvents.offerExpired:
            return [.offer(try event.decode(DispatchEvents.OfferEvent.self).offerId)]
        case DispatchEvents.jobAssigned:
            return [.request(try event.decode(DispatchEvents.JobAssigned.self).requestId)]
        case DispatchEvents.jobStatusChanged:
            let change = try event.decode(DispatchEvents.JobStatusChanged.self)
            return [.job(change.jobId), .pair(providerID: change.providerId, clientID: change.clientId)]
        case DispatchEvents.requestCancelled, DispatchEvents.requestUnfulfilled:
            return [.request(try event.decode(DispatchEvents.RequestCancelled.self).requestId)]
        default:
            return []
        }
    }

    public static func project(_ event: EventEnvelope, facts: EventFacts) throws -> (contributions: [Contribution], changes: [FactChange]) {
        let time = event.time
        var out: [Contribution] = []
        func add(_ scope: MetricScope, _ build: (inout BucketDelta) -> Void) {
            var delta = BucketDelta()
            build(&delta)
            out.append(Contribution(scope: scope, time: time, delta: delta))
        }
        /// The platform, and the category and area when known.
        func everywhere(category: String?, area: String?, _ build: (inout BucketDelta) -> Void) {
            add(.platform, build)
            if let category { add(.category(category), build) }
            if let area { add(.area(area), build) }
        }
        func count(_ name: String) -> (inout BucketDelta) -> Void { { $0.counters[name, default: 0] += 1 } }
        func milliseconds(since start: Date) -> Double { max(0, time.timeIntervalSince(start) * 1000) }

        switch event.type {
        case DispatchEvents.requestCreated:
            let created = try event.decode(DispatchEvents.RequestCreated.self)
            let area = Geohash.encode(lat: created.lat, lng: created.lng)
            everywhere(category: created.categoryId, area: area, count("requests"))
            return (out, [.request(RequestFact(_id: created.requestId, createdAt: time, categoryId: created.categoryId, area: area, clientId: created.clientId))])

        case DispatchEvents.requestUnfulfilled:
            everywhere(category: facts.request?.categoryId, area: facts.request?.area, count("unfulfilled"))
            return (out, [])

        case DispatchEvents.requestCancelled:
            // Cancelled while searching; a job's cancellation is counted from the job's event.
            guard try event.decode(DispatchEvents.RequestCancelled.self).jobId == nil else { return (out, []) }
            everywhere(category: facts.request?.categoryId, area: facts.request?.area, count("cancelled_client"))
            return (out, [])

        case DispatchEvents.offerSent:
            let offer = try event.decode(DispatchEvents.OfferEvent.self)
            add(.provider(offer.providerId), count("offers_received"))
            return (out, [.offer(OfferFact(_id: offer.offerId, providerId: offer.providerId, sentAt: time))])

        case DispatchEvents.offerAccepted, DispatchEvents.offerDeclined, DispatchEvents.offerExpired:
            let offer = try event.decode(DispatchEvents.OfferEvent.self)
            let name = event.type == DispatchEvents.offerAccepted ? "accepted" : event.type == DispatchEvents.offerDeclined ? "declined" : "expired"
            add(.provider(offer.providerId)) { delta in
                delta.counters["offers_\(name)", default: 0] += 1
                // How long the provider took to answer (an expiry is no answer).
                if name != "expired", let sent = facts.offer?.sentAt { delta.histograms["response", default: LatencyHistogram()].record(milliseconds: milliseconds(since: sent)) }
            }
            return (out, [])

        case DispatchEvents.jobAssigned:
            let job = try event.decode(DispatchEvents.JobAssigned.self)
            add(.provider(job.providerId), count("jobs_assigned"))
            everywhere(category: facts.request?.categoryId, area: facts.request?.area) { delta in
                delta.counters["assigned", default: 0] += 1
                if let created = facts.request?.createdAt { delta.histograms["match", default: LatencyHistogram()].record(milliseconds: milliseconds(since: created)) }
            }
            return (out, [.job(JobFact(_id: job.jobId, requestId: job.requestId, providerId: job.providerId, clientId: job.clientId, assignedAt: time,
                                       categoryId: facts.request?.categoryId, area: facts.request?.area))])

        case DispatchEvents.jobStatusChanged:
            let change = try event.decode(DispatchEvents.JobStatusChanged.self)
            let category = facts.job?.categoryId, area = facts.job?.area
            switch change.to {
            case .arrived:
                if let assigned = facts.job?.assignedAt {
                    everywhere(category: category, area: area) { $0.histograms["arrival", default: LatencyHistogram()].record(milliseconds: milliseconds(since: assigned)) }
                }
                return (out, [])
            case .completed:
                // Every completion for a client but the earliest is a repeat. One folded before an
                // earlier one (a replay reads partitions at their own pace) is counted when that
                // earlier one arrives, in its own bucket.
                let first = facts.firstCompletionWithClient
                add(.provider(change.providerId)) { delta in
                    delta.counters["jobs_completed", default: 0] += 1
                    if let first, first <= time { delta.counters["clients_repeat", default: 0] += 1 }
                }
                if let first, first > time {
                    out.append(Contribution(scope: .provider(change.providerId), time: first, delta: BucketDelta(counters: ["clients_repeat": 1])))
                }
                everywhere(category: category, area: area, count("completed"))
                return (out, [.completedPair(providerID: change.providerId, clientID: change.clientId, at: time)])
            case .cancelled:
                add(.provider(change.providerId), count("jobs_cancelled_\(change.by.rawValue)"))
                everywhere(category: category, area: area, count("cancelled_\(change.by.rawValue)"))
                return (out, [])
            default:
                return (out, [])
            }

        case DispatchEvents.reviewPublished:
            let review = try event.decode(DispatchEvents.ReviewPublished.self)
            guard review.authorRole == .client else { return (out, []) }
            add(.provider(review.subjectId)) { delta in
                delta.counters["rating_sum", default: 0] += review.rating
                delta.counters["rating_count", default: 0] += 1
            }
            return (out, [])

        case PaymentEvents.captured, PaymentEvents.refunded:
            let payment = try event.decode(PaymentEvents.PaymentChanged.self)
            // A refund takes back what its capture added, with the payment's own split.
            let sign = event.type == PaymentEvents.captured ? 1 : -1
            let currency = payment.amount.currency
            guard let gross = payment.amount.minorUnits else { return (out, []) }
            let fee = payment.platformFee?.minorUnits ?? 0
            let net = payment.providerNet?.minorUnits ?? gross - fee
            if let provider = payment.providerId {
                add(.provider(provider)) { delta in
                    delta.sums["earnings_gross_\(currency)", default: 0] += sign * gross
                    delta.sums["earnings_fee_\(currency)", default: 0] += sign * fee
                    delta.sums["earnings_net_\(currency)", default: 0] += sign * net
                }
            }
            // The payment names its category (it comes from another topic than the job's facts).
            everywhere(category: payment.categoryId, area: nil) { delta in
                delta.sums["gmv_\(currency)", default: 0] += sign * gross
                delta.sums["revenue_\(currency)", default: 0] += sign * fee
            }
            return (out, [])

        case DispatchEvents.locationUpdated:
            let location = try event.decode(DispatchEvents.LocationUpdated.self)
            let area = Geohash.encode(lat: location.lat, lng: location.lng)
            everywhere(category: nil, area: area) { $0.sets["online", default: []].insert(location.providerId) }
            return (out, [])

        case DispatchEvents.availabilityChanged:
            let availability = try event.decode(DispatchEvents.AvailabilityChanged.self)
            guard availability.online else { return (out, []) }
            add(.platform) { $0.sets["online", default: []].insert(availability.providerId) }
            for category in availability.categories { add(.category(category)) { $0.sets["online", default: []].insert(availability.providerId) } }
            return (out, [])

        case IdentityEvents.providerProfileUpdated:
            let profile = try event.decode(IdentityEvents.ProviderProfileUpdated.self)
            return ([], [.provider(ProviderFact(_id: profile.providerId, timeZone: profile.timeZone))])

        default:
            return ([], [])
        }
    }
}
