import Foundation
import MarketplaceContracts

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
