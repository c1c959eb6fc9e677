/// Where a job stands: `assigned → en_route → arrived → in_progress → completed`, or
/// `cancelled` from any active status. Completed and cancelled are final. Dispatch owns the
/// transitions; other services read the status from its events.
public enum JobStatus: String, Codable, Sendable, CaseIterable {
    case assigned, enRoute = "en_route", arrived, inProgress = "in_progress", completed, cancelled

    /// Active jobs occupy their provider (no new offers) and keep the job's realtime channels open.
    public var isActive: Bool { self != .completed && self != .cancelled }

    public static let active: [JobStatus] = [.assigned, .enRoute, .arrived, .inProgress]
}

/// Who did something to a job.
public enum JobActor: String, Codable, Sendable { case client, provider, admin }
