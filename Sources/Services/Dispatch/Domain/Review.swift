import Foundation
import MarketplaceContracts

/// A review of a completed job by one of its parties. Double-blind: a review stays hidden until
/// both parties reviewed or the 7-day window closed, so that neither writes in reaction to the
/// other. Visible reviews of providers feed their rating (the `provider-ratings` worker).
public struct Review: Codable, Sendable, Equatable {
    public var _id: String  // "<jobId>:<authorRole>": one review per party per job
    public var jobId: String
    public var authorId: String
    public var authorRole: JobActor
    public var subjectId: String
    public var rating: Int
    public var text: String
    public var visible: Bool
    public var windowClosesAt: Date
    public var createdAt: Date

    public static let window: TimeInterval = 7 * 86_400

    public var view: ReviewView {
        ReviewView(jobId: jobId, authorId: authorId, authorRole: authorRole, subjectId: subjectId, rating: rating, text: text,
                   visible: visible, createdAt: createdAt)
    }

    /// Why the input is refused, or nil.
    public static func problem(rating: Int, text: String) -> String? {
        if !(1...5).contains(rating) { return "rating: an integer from 1 to 5" }
        if text.count > 2000 { return "text: at most 2000 characters" }
        return nil
    }
}

public struct ReviewView: Codable, Sendable, Equatable {
    public var jobId: String
    public var authorId: String
    public var authorRole: JobActor
    public var subjectId: String
    public var rating: Int
    public var text: String
    public var visible: Bool
    public var createdAt: Date
}
