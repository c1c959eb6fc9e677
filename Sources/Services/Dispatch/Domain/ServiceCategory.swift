import Foundation
import MarketplaceContracts

/// A kind of service providers offer ("plumbing"). The slug is the id and never changes;
/// the name can be renamed; a retired category stays for history but is not offered.
public struct ServiceCategory: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case active, retired }
    public var _id: String
    public var name: String
    public var description: String?
    /// The card hold for a request of this category without a budget (payments).
    public var defaultHold: Money?
    public var status: Status
    public var createdAt: Date
    public var updatedAt: Date

    public var view: CategoryView { CategoryView(slug: _id, name: name, description: description, defaultHold: defaultHold, status: status) }

    public static func validSlug(_ slug: String) -> Bool {
        slug.range(of: "^[a-z0-9][a-z0-9-]{0,63}$", options: .regularExpression) != nil
    }
}

public struct CategoryView: Codable, Sendable, Equatable {
    public var slug: String
    public var name: String
    public var description: String?
    public var defaultHold: Money?
    public var status: ServiceCategory.Status

    public init(slug: String, name: String, description: String?, defaultHold: Money? = nil, status: ServiceCategory.Status) {
        self.slug = slug
        self.name = name
        self.description = description
        self.defaultHold = defaultHold
        self.status = status
    }
}
