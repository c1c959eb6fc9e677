import Foundation
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMessaging
import MarketplaceMongo

/// Clients' service requests: create, read, list, cancel. Every change and its event are written
/// in one transaction (outbox); the dispatch worker reacts to the events. With payments, a
/// request is created only once a hold is on the client's card (402/503 otherwise, and nothing
/// is created or dispatched).
extension DispatchService {
    public func createRequest(_ caller: Caller, _ input: ServiceRequestInput, traceparent: String?) async throws -> ServiceRequestView {
        guard caller.role == .client else {
            throw DomainError(kind: .forbidden, code: "forbidden", title: "Only clients request services")
        }
        if let problem = input.problem() { throw DomainError.validation(problem) }
        guard let category = try await categories.findActive(input.categoryId) else {
            throw DomainError(kind: .unprocessableContent, code: "unknown_category", title: "No such category", detail: "categoryId '\(input.categoryId)'")
        }
        let requestID = UUID().uuidString.lowercased()
        var hold: PaymentHold?
        if let holds {
            let amount = input.budget ?? category.defaultHold ?? Money(amount: policy.defaultHold, currency: cancellation.defaultCurrency)
            hold = try await holds.placeHold(requestID: requestID, clientID: caller.userID, categoryID: input.categoryId, amount: amount, traceparent: traceparent)
        }
        let now = Date()
        let request = ServiceRequest(_id: requestID, clientId: caller.userID, categoryId: input.categoryId,
                                     location: input.location, address: input.address, description: input.description,
                                     scheduledFor: input.scheduledFor, budget: input.budget, hold: hold?.amount, paymentId: hold?.paymentId,
                                     status: .searching, cancellationReason: nil, createdAt: now, updatedAt: now)
        let event = try EventEnvelope(
            source: DispatchEvents.source, type: DispatchEvents.requestCreated, aggregateID: request._id,
            payload: DispatchEvents.RequestCreated(requestId: request._id, clientId: caller.userID, categoryId: input.categoryId,
                                                   lat: input.location.lat, lng: input.location.lng, scheduledFor: input.scheduledFor,
                                                   budget: input.budget?.amountText, currency: input.budget?.currency),
            traceparent: traceparent)
        let topic = Topic.serviceRequests
        do {
            try await mongo.withTransaction { session in
                try session.collection(ServiceRequestRepository.collectionName, as: ServiceRequest.self).insert(request)
                try Outbox.append(event, to: topic, in: session)
            }
        } catch {
            if let hold { await holds?.releaseHold(paymentID: hold.paymentId, reason: "request_not_created") }
            throw error
        }
        return request.view
    }

    /// The request, for its client or an admin; 404 for anyone else (its existence is not revealed).
    public func request(_ caller: Caller, id: String) async throws -> ServiceRequestView {
        guard let request = try await requests.find(id: id),
              caller.role == .admin || request.clientId == caller.userID else {
            throw DomainError.notFound("request '\(id)'")
        }
        return request.view
    }

    public struct RequestPage: Codable, Sendable {
        public var items: [ServiceRequestView]
        public var total: Int
        public var page: Int
        public var limit: Int
    }

    /// The caller's own requests, newest first.
    public func myRequests(_ caller: Caller, status: ServiceRequest.Status?, page: Int, limit: Int) async throws -> RequestPage {
        let found = try await requests.page(client: caller.userID, status: status, page: page, limit: limit)
        return RequestPage(items: found.items.map(\.view), total: found.total, page: page, limit: limit)
    }

    public func cancelRequest(_ caller: Caller, id: String, reason: String?, traceparent: String?) async throws -> ServiceRequestView {
        guard let current = try await requests.find(id: id), current.clientId == caller.userID else {
            throw DomainError.notFound("request '\(id)'")
        }
        if let reason, reason.count > 500 { throw DomainError.validation("reason: at most 500 characters") }
        let event = try EventEnvelope(source: DispatchEvents.source, type: DispatchEvents.requestCancelled, aggregateID: id,
                                      payload: DispatchEvents.RequestCancelled(requestId: id, clientId: caller.userID, reason: reason),
                                      traceparent: traceparent)
        let topic = Topic.serviceRequests
        var set: BSONDocument = ["status": "cancelled", "updatedAt": .date(Date())]
        if let reason { set["cancellationReason"] = .string(reason) }
        let cancelled: ServiceRequest? = try await mongo.withTransaction { [set] session in
            // Compare-and-set: only a request still searching is cancelled here (an assigned one
            // is cancelled through its job, with the fee policy).
            let updated = try session.collection(ServiceRequestRepository.collectionName, as: ServiceRequest.self)
                .findOneAndUpdate(["_id": .string(id), "status": "searching"], ["$set": .document(set)])
            if updated != nil { try Outbox.append(event, to: topic, in: session) }
            return updated
        }
        guard let cancelled else {
            throw DomainError.conflict("invalid_transition", "the request is \(current.status.rawValue) and cannot be cancelled here")
        }
        return cancelled.view
    }
}
