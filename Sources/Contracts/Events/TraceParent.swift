/// The W3C trace context of the current operation (`traceparent`).
public struct TraceParent: Sendable, Hashable, CustomStringConvertible {
    public var traceID: String
    public var parentID: String
    public var sampled: Bool

    /// A new root context with random ids.
    public init() {
        traceID = TraceParent.randomHex(bytes: 16)
        parentID = TraceParent.randomHex(bytes: 8)
        sampled = true
    }

    /// Parses `00-<32 hex>-<16 hex>-<2 hex>`; nil for anything else (the header is then ignored).
    public init?(_ header: String) {
        let parts = header.split(separator: "-")
        guard parts.count == 4, parts[0] == "00", parts[1].count == 32, parts[2].count == 16, parts[3].count == 2,
              parts[1].allSatisfy(\.isHexDigit), parts[2].allSatisfy(\.isHexDigit),
              parts[1] != String(repeating: "0", count: 32), parts[2] != String(repeating: "0", count: 16),
              let flags = UInt8(parts[3], radix: 16) else { return nil }
        traceID = String(parts[1]).lowercased()
        parentID = String(parts[2]).lowercased()
        sampled = flags & 1 == 1
    }

    /// The same trace with a new span id, for an outgoing call.
    public func child() -> TraceParent {
        var next = self
        next.parentID = TraceParent.randomHex(bytes: 8)
        return next
    }

    public var description: String { "00-\(traceID)-\(parentID)-\(sampled ? "01" : "00")" }

    private static func randomHex(bytes: Int) -> String {
        (0..<bytes).map { _ in String(format: "%02x", UInt8.random(in: 0...255)) }.joined()
    }
}
