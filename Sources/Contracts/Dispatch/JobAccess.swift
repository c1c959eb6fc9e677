import Foundation

/// Who may see a job's channels and conversation, and where the job stands.
public struct JobAccess: Sendable, Equatable {
    public var clientId: String
    public var providerId: String
    public var status: JobStatus
    /// When the status last changed (for a completed job: when it completed).
    public var statusChangedAt: Date
    /// Why it was cancelled, when it was.
    public var cancellationReason: String?

    /// Whether the job still runs (its realtime channels are open).
    public var active: Bool { status.isActive }

    public init(clientId: String, providerId: String, status: JobStatus, statusChangedAt: Date, cancellationReason: String? = nil) {
        self.clientId = clientId
        self.providerId = providerId
        self.status = status
        self.statusChangedAt = statusChangedAt
        self.cancellationReason = cancellationReason
    }

    /// An active (`assigned`) or a completed job, as tests and policies state it.
    public init(clientId: String, providerId: String, active: Bool) {
        self.init(clientId: clientId, providerId: providerId, status: active ? .assigned : .completed, statusChangedAt: Date())
    }

    public func isMember(_ userID: String) -> Bool { userID == clientId || userID == providerId }
}

/// The parties and state of a job, for services that authorize by job (the realtime gateway,
/// chat). The Dispatch module provides it; nobody else reads Dispatch's documents.
public protocol JobAccessDirectory: Sendable {
    func access(toJob id: String) async throws -> JobAccess?
}
