import Foundation
import MarketplaceContracts

/// A client's request for a service. Its status moves only forward:
/// `searching → assigned` (an offer accepted), `searching → unfulfilled` (nobody accepted in time),
/// `searching | assigned → cancelled`. Transitions are compare-and-set updates in MongoDB.
public struct ServiceRequest: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case searching, assigned, cancelled, unfulfilled }

    public typealias Budget = Money

    public var _id: String
    public var clientId: String
    public var categoryId: String
    public var location: Coordinates
    public var address: String
    public var description: String
    public var scheduledFor: Date?
    public var budget: Budget?
    /// The card hold placed for it (payments), and its payment.
    public var hold: Money?
    public var paymentId: String?
    public var status: Status
    public var cancellationReason: String?
    public var createdAt: Date
    public var updatedAt: Date

    public var view: ServiceRequestView {
        ServiceRequestView(id: _id, clientId: clientId, categoryId: categoryId, location: location, address: address,
                           description: description, scheduledFor: scheduledFor, budget: budget, hold: hold, paymentId: paymentId, status: status,
                           cancellationReason: cancellationReason, createdAt: createdAt)
    }
}

public struct ServiceRequestView: Codable, Sendable, Equatable {
    public var id: String
    public var clientId: String
    public var categoryId: String
    public var location: Coordinates
    public var address: String
    public var description: String
    public var scheduledFor: Date?
    public var budget: ServiceRequest.Budget?
    public var hold: Money?
    public var paymentId: String?
    public var status: ServiceRequest.Status
    public var cancellationReason: String?
    public var createdAt: Date
}

/// The body of `POST /v1/requests`.
public struct ServiceRequestInput: Codable, Sendable {
    public var categoryId: String
    public var location: Coordinates
    public var address: String
    public var description: String
    public var scheduledFor: Date?
    public var budget: ServiceRequest.Budget?

    public init(categoryId: String, location: Coordinates, address: String, description: String, scheduledFor: Date? = nil,
                budget: ServiceRequest.Budget? = nil) {
        self.categoryId = categoryId
        self.location = location
        self.address = address
        self.description = description
        self.scheduledFor = scheduledFor
        self.budget = budget
    }

    /// Why the input is refused (category existence is checked by the use case), or nil.
    public func problem(now: Date = Date()) -> String? {
        if let problem = location.problem { return "location: \(problem)" }
        if address.trimmingCharacters(in: .whitespaces).isEmpty || address.count > 300 { return "address: 1 to 300 characters" }
        if description.trimmingCharacters(in: .whitespaces).isEmpty || description.count > 2000 { return "description: 1 to 2000 characters" }
        if let scheduledFor, scheduledFor < now.addingTimeInterval(-60) || scheduledFor > now.addingTimeInterval(90 * 86_400) {
            return "scheduledFor: between now and 90 days ahead"
        }
        if let budget {
            if budget.currency.range(of: "^[A-Z]{3}$", options: .regularExpression) == nil { return "budget.currency: an ISO 4217 code like EUR" }
            guard budget.amount > 0 else { return "budget.amount: a positive amount" }
            guard budget.minorUnits != nil else { return "budget.amount: at most \(Money.minorUnitDigits(budget.currency)) decimals in \(budget.currency)" }
        }
        return nil
    }
}
