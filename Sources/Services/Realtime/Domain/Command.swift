import Foundation
import MarketplaceContracts

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
