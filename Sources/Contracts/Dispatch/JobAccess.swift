/// Who may see a job's channels, and whether the job is still running.
public struct JobAccess: Sendable, Equatable {
    public var clientId: String
    public var providerId: String
    public var active: Bool

    public init(clientId: String, providerId: String, active: Bool) {
        self.clientId = clientId
        self.providerId = providerId
        self.active = active
    }
}

/// The parties and state of a job, for services that authorize by job (the realtime gateway,
/// chat). The Dispatch module provides it; nobody else reads Dispatch's documents.
public protocol JobAccessDirectory: Sendable {
    func access(toJob id: String) async throws -> JobAccess?
}
