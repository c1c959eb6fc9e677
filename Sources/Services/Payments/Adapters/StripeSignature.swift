import Crypto
import Foundation

/// Stripe's webhook signature (`Stripe-Signature: t=<unix seconds>,v1=<hex>,v1=<hex>...`): an
/// HMAC-SHA256 with the endpoint's secret over `"<t>.<raw body>"` — the bytes as received, never a
/// re-serialized parse. Any `v1` matching any of the configured secrets is accepted (two during a
/// rotation), within `tolerance` of now.
public struct StripeSignature: Sendable {
    public enum Failure: Error, Equatable, CustomStringConvertible {
        case missingHeader, malformedHeader, noMatch, stale(age: Int)
        public var description: String {
            switch self {
            case .missingHeader: "no Stripe-Signature header"
            case .malformedHeader: "the Stripe-Signature header has no t= or v1="
            case .noMatch: "no v1 signature matches"
            case .stale(let age): "the signature is \(age) s old"
            }
        }
    }

    public let secrets: [String]
    public let tolerance: TimeInterval

    public init(secrets: [String], tolerance: TimeInterval = 300) {
        self.secrets = secrets
        self.tolerance = tolerance
    }

    public func verify(header: String?, body: [UInt8], now: Date = Date()) throws(Failure) {
        guard let header else { throw .missingHeader }
        var timestamp: String?
        var signatures: [[UInt8]] = []
        for item in header.split(separator: ",") {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { continue }
            if pair[0] == "t" { timestamp = pair[1] }
            if pair[0] == "v1", let bytes = Self.hexBytes(pair[1]) { signatures.append(bytes) }
        }
        guard let timestamp, let seconds = Int(timestamp), !signatures.isEmpty else { throw .malformedHeader }
        let signed = Array("\(timestamp).".utf8) + body
        let matches = secrets.contains { secret in
            let key = SymmetricKey(data: Array(secret.utf8))
            return signatures.contains { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: signed, using: key) }
        }
        guard matches else { throw .noMatch }
        let age = Int(now.timeIntervalSince1970) - seconds
        guard abs(Double(age)) <= tolerance else { throw .stale(age: age) }
    }

    /// The header Stripe would send for `body` at `time` (tests and benchmarks sign with it).
    public static func header(secret: String, body: [UInt8], time: Date = Date()) -> String {
        let timestamp = String(Int(time.timeIntervalSince1970))
        let code = HMAC<SHA256>.authenticationCode(for: Array("\(timestamp).".utf8) + body, using: SymmetricKey(data: Array(secret.utf8)))
        return "t=\(timestamp),v1=\(code.map { String(format: "%02x", $0) }.joined())"
    }

    static func hexBytes(_ text: String) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            guard let byte = UInt8(text[index..<next], radix: 16) else { return nil }
            bytes.append(byte)
            index = next
        }
        return bytes
    }
}
