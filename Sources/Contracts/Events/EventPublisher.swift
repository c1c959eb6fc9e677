/// Publishes events. Services depend on this port; Messaging implements it (directly on Kafka,
/// applying the environment's topic prefix, or through the outbox).
public protocol EventPublisher: Sendable {
    func publish(_ event: EventEnvelope, to topic: Topic) async throws
}
