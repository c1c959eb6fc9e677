/// What delivers a domain event to connected clients: the records for the realtime fan-out
/// topic (`Topic.realtimePublications`) that an event becomes — channel publications and
/// revocations, as events keyed by channel. The Realtime module provides it; a service that wants
/// its event delivered with no extra hop appends these to its outbox in the same transaction as
/// the event itself (stored, then fanned out, atomically and in order).
public protocol RealtimeFanOut: Sendable {
    func publications(for event: EventEnvelope) throws -> [EventEnvelope]
}
