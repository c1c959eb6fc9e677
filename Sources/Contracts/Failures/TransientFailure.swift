/// An error that says something about the infrastructure (a write conflict, a server that does
/// not answer), not about the work: retrying later may succeed. Adapters' errors conform, so a
/// consumer retries them for as long as it takes instead of dead-lettering the record.
public protocol TransientFailure: Error {
    var isTransient: Bool { get }
}

extension Error {
    /// Whether retrying the same work later may succeed.
    public var isTransientFailure: Bool { (self as? any TransientFailure)?.isTransient ?? false }
}
