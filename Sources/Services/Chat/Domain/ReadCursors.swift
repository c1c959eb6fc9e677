/// Each member's read cursor: the highest `seq` they have read. It never moves backwards, and a
/// member's own message moves it to that message (writing implies having read what came before).
public struct ReadCursors: Codable, Sendable, Equatable {
    public var client: Int
    public var provider: Int

    public init(client: Int = 0, provider: Int = 0) {
        self.client = client
        self.provider = provider
    }

    public subscript(member: ConversationMember) -> Int {
        get { member == .client ? client : provider }
        set { if member == .client { client = newValue } else { provider = newValue } }
    }
}

/// The two sides of a job's conversation.
public enum ConversationMember: String, Codable, Sendable, CaseIterable {
    case client, provider

    public var other: ConversationMember { self == .client ? .provider : .client }
}
