import Crypto
import Foundation

/// AWS Signature Version 4 (docs.aws.amazon.com/general/latest/gr/sigv4_signing.html): signs a
/// request in its `Authorization` header, or presigns a URL in its query (S3's presigned
/// uploads and downloads). One signer per service and region; pure, so it is tested against
/// AWS's published examples and botocore's output without a network.
public struct SigV4Signer: Sendable {
    public static let unsignedPayload = "UNSIGNED-PAYLOAD"

    public var credentials: AWSCredentials
    public var region: String
    public var service: String

    public init(credentials: AWSCredentials, region: String, service: String) {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The headers to add to a request: `Authorization`, `X-Amz-Date`, `X-Amz-Content-Sha256`
    /// (and the session token). `headers` must hold every header sent that should be signed,
    /// `Host` included.
    public func signatureHeaders(method: String, url: URL, headers: [String: String], payloadHash: String,
                                 date: Date = Date()) -> [String: String] {
        let stamp = Self.timestamp(date)
        var signed = headers
        signed["x-amz-date"] = stamp
        signed["x-amz-content-sha256"] = payloadHash
        if let token = credentials.sessionToken { signed["x-amz-security-token"] = token }
        let canonical = canonicalRequest(method: method, url: url, query: Self.query(of: url), headers: signed, payloadHash: payloadHash)
        let signature = sign(canonical.request, stamp: stamp)
        var added = ["X-Amz-Date": stamp, "X-Amz-Content-Sha256": payloadHash]
        if let token = credentials.sessionToken { added["X-Amz-Security-Token"] = token }
        added["Authorization"] = "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyID)/\(scope(stamp)), "
            + "SignedHeaders=\(canonical.signedHeaders), Signature=\(signature)"
        return added
    }

    /// A URL that performs `method` on `url` without credentials until `expires` has passed.
    /// `headers` are the headers the holder must send as they are (signed), `Host` included.
    public func presign(method: String, url: URL, headers: [String: String], expires: Int, date: Date = Date()) -> URL {
        let stamp = Self.timestamp(date)
        var query = Self.query(of: url)
        let signedHeaders = headers.keys.map { $0.lowercased() }.sorted().joined(separator: ";")
        query.append(("X-Amz-Algorithm", "AWS4-HMAC-SHA256"))
        query.append(("X-Amz-Credential", "\(credentials.accessKeyID)/\(scope(stamp))"))
        query.append(("X-Amz-Date", stamp))
        query.append(("X-Amz-Expires", String(expires)))
        if let token = credentials.sessionToken { query.append(("X-Amz-Security-Token", token)) }
        query.append(("X-Amz-SignedHeaders", signedHeaders))
        let canonical = canonicalRequest(method: method, url: url, query: query, headers: headers, payloadHash: Self.unsignedPayload)
        // The signature goes last, after the signed (canonical) query, as AWS's own presigners do.
        var components = URLComponents(url: url, resolvingAgainstBaseURL: false)!
        components.percentEncodedQuery = Self.canonicalQuery(query) + "&X-Amz-Signature=" + sign(canonical.request, stamp: stamp)
        return components.url!
    }

    /// The canonical request (method, path, query, headers, signed header names, payload hash).
    func canonicalRequest(method: String, url: URL, query: [(String, String)], headers: [String: String],
                          payloadHash: String) -> (request: String, signedHeaders: String) {
        let normalized = headers.map { ($0.key.lowercased(), Self.trim($0.value)) }.sorted { $0.0 < $1.0 }
        let signedHeaders = normalized.map(\.0).joined(separator: ";")
        let headerBlock = normalized.map { "\($0.0):\($0.1)\n" }.joined()
        let path = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? "/"
        let request = [method, Self.canonicalPath(path), Self.canonicalQuery(query), headerBlock, signedHeaders, payloadHash].joined(separator: "\n")
        return (request, signedHeaders)
    }

    func sign(_ canonicalRequest: String, stamp: String) -> String {
        let stringToSign = "AWS4-HMAC-SHA256\n\(stamp)\n\(scope(stamp))\n\(Self.hex(SHA256.hash(data: Data(canonicalRequest.utf8))))"
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Data(stringToSign.utf8), using: signingKey(day: String(stamp.prefix(8)))))
    }

    func scope(_ stamp: String) -> String { "\(stamp.prefix(8))/\(region)/\(service)/aws4_request" }

    func signingKey(day: String) -> SymmetricKey {
        var key = SymmetricKey(data: Data("AWS4\(credentials.secretAccessKey)".utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Data(part.utf8), using: key)))
        }
        return key
    }

    // MARK: encoding rules

    /// `YYYYMMDD'T'HHMMSS'Z'` in UTC.
    public static func timestamp(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMdd'T'HHmmss'Z'"
        return formatter.string(from: date)
    }

    /// Lowercase hex SHA-256 of a payload (the `x-amz-content-sha256` value).
    public static func payloadHash(_ bytes: some DataProtocol) -> String { hex(SHA256.hash(data: Data(bytes))) }

    static func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// RFC 3986 unreserved characters stay; everything else is %XX (uppercase), `/` too unless a path.
    public static func encode(_ text: String, keepSlash: Bool = false) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    /// S3 signs the path as sent, each segment encoded once.
    static func canonicalPath(_ percentEncodedPath: String) -> String {
        guard !percentEncodedPath.isEmpty else { return "/" }
        let decoded = percentEncodedPath.removingPercentEncoding ?? percentEncodedPath
        return encode(decoded, keepSlash: true)
    }

    static func query(of url: URL) -> [(String, String)] {
        (URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []).map { ($0.name, $0.value ?? "") }
    }

    static func canonicalQuery(_ items: [(String, String)]) -> String {
        let encoded: [(name: String, value: String)] = items.map { (encode($0.0), encode($0.1)) }
        let sorted = encoded.sorted { left, right in left.name == right.name ? left.value < right.value : left.name < right.name }
        return sorted.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    static func trim(_ value: String) -> String {
        value.split(whereSeparator: \.isWhitespace).joined(separator: " ")
    }
}
