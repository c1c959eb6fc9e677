import MarketplaceContracts

/// The bridge's mapping (`RealtimeBridge.records`) as the `RealtimeFanOut` port: the fan-out
/// records of an event, for a service's outbox. Chat uses it so that a message goes
/// store → relay → fan-out topic → gateways, one Kafka hop, instead of through the bridge worker.
public struct BridgeFanOut: RealtimeFanOut {
    public init() {}

    public func publications(for event: EventEnvelope) throws -> [EventEnvelope] {
        try RealtimeBridge.records(for: event).map { kind, channel, data in
            EventEnvelope(source: RealtimeBus.source, type: EventType(rawValue: kind.rawValue), aggregateID: channel.name, data: data,
                          traceparent: event.traceparent)
        }
    }
}
