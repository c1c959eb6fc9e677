import Foundation
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo

/// Jobs after `assigned`: the assigned provider advances them one step at a time; the client or
/// the provider cancels them (with a reason; the fee policy decides what the client owes).
/// Every transition is a compare-and-set on the job's status and writes its event to the outbox
/// in the same transaction, so two concurrent moves cannot both win and no event is lost.
extension DispatchService {
    /// The job, for its client, its provider or an admin; 404 for anyone else.
    public func job(_ caller: Caller, id: String) async throws -> JobView {
        try await visibleJob(caller, id: id).view
    }

    private func visibleJob(_ caller: Caller, id: String) async throws -> Job {
        guard let job = try await jobs.find(id: id),
              caller.role == .admin || job.clientId == caller.userID || job.providerId == caller.userID else {
            throw DomainError.notFound("job '\(id)'")
        }
        return job
    }

    /// The caller's jobs (as client or as provider), newest first; `active` keeps only open ones.
    public func myJobs(_ caller: Caller, active: Bool?, limit: Int = 50) async throws -> [JobView] {
        try await jobs.list(party: caller.userID, asProvider: caller.role == .provider, active: active, limit: limit).map(\.view)
    }

    /// The assigned provider moves the job to the next status. Anything but the next step is 409
    /// `invalid_transition`; other callers get 403 (the client) or 404 (strangers).
    /// Completing may state the final amount (at most the hold, in its currency); the hold is
    /// captured when it is left out.
    public func advanceJob(_ caller: Caller, id: String, to target: Job.Status, finalAmount: Money? = nil, traceparent: String?) async throws -> JobView {
        let job = try await visibleJob(caller, id: id)
        guard caller.userID == job.providerId else {
            throw DomainError(kind: .forbidden, code: "not_assigned_provider", title: "Only the job's provider advances it")
        }
        guard job.status.next == target else {
            throw DomainError.conflict("invalid_transition", "a job that is \(job.status.rawValue) cannot become \(target.rawValue)"
                                   + (job.status.next.map { " (next: \($0.rawValue))" } ?? ""))
        }
        if let finalAmount {
            guard target == .completed else { throw DomainError.validation("finalAmount: only when the status is completed") }
            let ceiling = job.hold ?? job.budget
            if let ceiling, finalAmount.currency != ceiling.currency {
                throw DomainError.validation("finalAmount.currency: the hold is in \(ceiling.currency)")
            }
            guard finalAmount.amount > 0, finalAmount.minorUnits != nil else {
                throw DomainError.validation("finalAmount.amount: a positive amount in whole \(finalAmount.currency) minor units")
            }
            if let ceiling, finalAmount.amount > ceiling.amount {
                throw DomainError.validation("finalAmount.amount: at most the hold, \(ceiling.amountText) \(ceiling.currency)")
            }
        }
        return try await transition(job, to: target, by: .provider, reason: nil, fee: nil, finalAmount: finalAmount, traceparent: traceparent)
    }

    /// The client or the provider (or an admin) cancels an active job, with a reason.
    public func cancelJob(_ caller: Caller, id: String, reason: String?, traceparent: String?) async throws -> JobView {
        let job = try await visibleJob(caller, id: id)
        let actor: JobActor = caller.userID == job.providerId ? .provider : caller.userID == job.clientId ? .client : .admin
        guard let reason = reason?.trimmingCharacters(in: .whitespacesAndNewlines), (1...500).contains(reason.count) else {
            throw DomainError.validation("reason: 1 to 500 characters")
        }
        guard job.status.isActive else {
            throw DomainError.conflict("invalid_transition", "a job that is \(job.status.rawValue) cannot be cancelled")
        }
        // The fee never exceeds what the client agreed to: the budget, else the hold.
        let fee = cancellation.fee(cancelledBy: actor, from: job.status, budget: job.budget ?? job.hold)
        return try await transition(job, to: .cancelled, by: actor, reason: reason, fee: fee, traceparent: traceparent)
    }

    private func transition(_ job: Job, to target: Job.Status, by actor: JobActor, reason: String?, fee: Money?, finalAmount: Money? = nil,
                            traceparent: String?) async throws -> JobView {
        let now = Date()
        let change = DispatchEvents.JobStatusChanged(jobId: job._id, requestId: job.requestId, clientId: job.clientId, providerId: job.providerId,
                                                     from: job.status, to: target, by: actor, reason: reason, fee: fee, finalAmount: finalAmount, at: now)
        let event = try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.jobStatusChanged, aggregateID: job._id,
                                      payload: change, traceparent: traceparent)
        var set: BSONDocument = ["status": .string(target.rawValue), "updatedAt": .date(now)]
        if target == .cancelled {
            set["cancelledBy"] = .string(actor.rawValue)
            if let reason { set["cancellationReason"] = .string(reason) }
            if let fee { set["cancellationFee"] = try BSONEncoder().encodeValue(fee) }
        }
        if let finalAmount { set["finalAmount"] = try BSONEncoder().encodeValue(finalAmount) }
        let step = try BSONEncoder().encodeValue(Job.Step(status: target, at: now, by: actor))
        let updated: Job? = try await mongo.withTransaction { [set] session in
            guard let updated = try session.collection(JobRepository.collectionName, as: Job.self)
                .findOneAndUpdate(["_id": .string(job._id), "status": .string(job.status.rawValue)], ["$set": .document(set), "$push": ["timeline": step]]) else {
                return nil  // someone else moved it first
            }
            try Outbox.append(event, to: Topic.jobs, in: session)
            if target == .cancelled {
                // The request is over too; its own event tells request-side consumers.
                try session.collection(ServiceRequestRepository.collectionName, as: ServiceRequest.self).updateOne(
                    ["_id": .string(job.requestId), "status": "assigned"],
                    ["$set": ["status": "cancelled", "cancellationReason": .string(reason ?? ""), "updatedAt": .date(now)]])
                try Outbox.append(try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.requestCancelled, aggregateID: job.requestId,
                                                    payload: DispatchEvents.RequestCancelled(requestId: job.requestId, clientId: job.clientId, reason: reason, jobId: job._id),
                                                    traceparent: traceparent), to: Topic.serviceRequests, in: session)
            }
            return updated
        }
        guard let updated else {
            throw DomainError.conflict("invalid_transition", "the job changed meanwhile; read it again")
        }
        return updated.view
    }
}
