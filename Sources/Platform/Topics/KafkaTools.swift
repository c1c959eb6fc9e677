import MarketplaceKafka

/// Topic commands for the executable.
public enum KafkaTools {
    public static func listTopics(_ configuration: PlatformConfiguration) async throws -> [KafkaTopicDescription] {
        try await KafkaAdmin(configuration: configuration.kafkaClient).listTopics()
    }

    public static func apply(_ catalog: TopicCatalog, configuration: PlatformConfiguration) async throws -> [TopicReconciler.Change] {
        let admin = try KafkaAdmin(configuration: configuration.kafkaClient)
        return try await TopicReconciler(admin: admin, prefix: configuration.kafkaTopicPrefix).apply(catalog)
    }
}
