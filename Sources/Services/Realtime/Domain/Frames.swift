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

    /// The protocol's Publication object. JSON protocol: `data` is embedded as JSON, not encoded.
    public var json: String {
        var text = #"{"data":"# + String(decoding: data, as: UTF8.self) + #","offset":\#(offset)"#
        if let info { text += #","info":"# + info.json }
        return text + "}"
    }
}

/// Replies and pushes of the Centrifugo client protocol v2, JSON encoding. Built as text so that
/// a publication's frame is rendered once and shared by every subscriber on the node.
public enum Frames {
    public static let ping = "{}"

    public static func reply(_ id: Int, _ method: String, _ body: String = "{}") -> String {
        #"{"id":\#(id),"\#(method)":\#(body)}"#
    }

    public static func error(_ id: Int, _ error: ProtocolError) -> String {
        #"{"id":\#(id),"error":{"code":\#(error.code),"message":\#(JSONText.quote(error.message))\#(error.temporary ? #","temporary":true"# : "")}}"#
    }

    public static func publication(_ channel: String, _ publication: Publication) -> String {
        #"{"push":{"channel":\#(JSONText.quote(channel)),"pub":\#(publication.json)}}"#
    }

    public static func join(_ channel: String, _ info: ClientInfo) -> String {
        #"{"push":{"channel":\#(JSONText.quote(channel)),"join":{"info":\#(info.json)}}}"#
    }

    public static func leave(_ channel: String, _ info: ClientInfo) -> String {
        #"{"push":{"channel":\#(JSONText.quote(channel)),"leave":{"info":\#(info.json)}}}"#
    }

    public static func unsubscribe(_ channel: String, code: Int, reason: String) -> String {
        #"{"push":{"channel":\#(JSONText.quote(channel)),"unsubscribe":{"code":\#(code),"reason":\#(JSONText.quote(reason))}}}"#
    }

    public static func disconnect(_ disconnect: Disconnect) -> String {
        #"{"push":{"disconnect":{"code":\#(disconnect.code),"reason":\#(JSONText.quote(disconnect.reason)),"reconnect":\#(disconnect.reconnect)}}}"#
    }
}

/// A command from a client: `{"id": N, "<method>": {...}}`; `{}` alone is the client's pong.
public struct Command: @unchecked Sendable {
    public enum Method: String, CaseIterable, Sendable {
        case connect, subscribe, unsubscribe, publish, presence, history, refresh, rpc, send
        case presenceStats = "presence_stats"
        case subRefresh = "sub_refresh"
    }

    public var id: Int
    public var method: Method?
    /// The method's request object (JSONSerialization types).
    public var params: [String: Any]

    public var isPong: Bool { id == 0 && method == nil && params.isEmpty }

    /// Parses one line of a frame; nil when it is not a JSON object.
    public static func parse(_ line: Substring) -> Command? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
        let id = (object["id"] as? NSNumber)?.intValue ?? 0
        for method in Method.allCases {
            if let params = object[method.rawValue] {
                return Command(id: id, method: method, params: params as? [String: Any] ?? [:])
            }
        }
        return Command(id: id, method: nil, params: object.filter { $0.key != "id" })
    }

    public func string(_ key: String) -> String? { params[key] as? String }
    public func bool(_ key: String) -> Bool { (params[key] as? NSNumber)?.boolValue ?? false }
    /// Offsets arrive as numbers, or as strings (protobuf's JSON mapping of uint64).
    public func uint64(_ key: String) -> UInt64? {
        if let number = params[key] as? NSNumber { return number.uint64Value }
        if let text = params[key] as? String { return UInt64(text) }
        return nil
    }
}

public enum JSONText {
    /// A JSON string literal.
    public static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
