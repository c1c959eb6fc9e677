import MarketplaceContracts

/// A refusal from an AWS API (status and the `<Code>` of its XML error body), or no answer.
public struct AWSError: Error, Sendable, CustomStringConvertible, TransientFailure {
    public var status: Int
    public var code: String
    public var message: String

    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }

    /// Throttling, 5xx and network failures (status 0) are worth retrying; 4xx are not.
    public var isTransient: Bool { status == 0 || status >= 500 || status == 429 || code == "Throttling" || code == "SlowDown" }

    public var description: String { "AWS \(status) \(code): \(message)" }

    /// The error named by an AWS XML error body (`<Error><Code>…</Code><Message>…</Message>`).
    static func parse(status: Int, body: String) -> AWSError {
        AWSError(status: status, code: XMLText.first("Code", in: body) ?? "HTTP\(status)", message: XMLText.first("Message", in: body) ?? "")
    }
}

/// The few elements the adapters read from AWS's XML answers; a full XML parser is not needed
/// for `<Code>`, `<Message>`, `<EndpointArn>` and `<MessageId>`.
enum XMLText {
    static func first(_ element: String, in body: String) -> String? {
        guard let start = body.range(of: "<\(element)>"), let end = body.range(of: "</\(element)>", range: start.upperBound..<body.endIndex) else {
            return nil
        }
        return String(body[start.upperBound..<end.lowerBound])
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&apos;", with: "'")
            .replacingOccurrences(of: "&amp;", with: "&")
    }
}
