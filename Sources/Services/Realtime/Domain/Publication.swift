import Foundation
import MarketplaceContracts

/// Who published: the protocol's ClientInfo (user id and connection id).
public struct ClientInfo: Sendable, Equatable, Codable {
    public var user: String
    public var client: String

    public init(user: String, client: String) {
        self.user = user
        self.client = client
    }

    var json: String { #"{"user":\#(JSONText.quote(user)),"client":\#(JSONText.quote(client))}"# }
}

/// A publication in a channel's stream: its offset in the stream, its JSON data as published,
/// and who published it (clients) or nothing (services).
public struct Publication: Sendable, Equatable {
    public var offset: UInt64
    public var data: [UInt8]
    public var info: ClientInfo?

    public init(offset: UInt64, data: [UInt8], info: ClientInfo?) {
        self.offset = offset
        self.data = data
        self.info = info
    }

    /// The protocol's Publication object. JSON protocol: `data` is embedded as JSON, not encoded;
    /// offset 0 (an ephemeral publication, outside the stream) is omitted, as Centrifugo does.
    public var json: String {
        var text = #"{"data":"# + String(decoding: data, as: UTF8.self)
        if offset > 0 { text += #","offset":\#(offset)"# }
        if let info { text += #","info":"# + info.json }
        return text + "}"
    }
}
