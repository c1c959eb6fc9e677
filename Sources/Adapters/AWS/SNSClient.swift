import AsyncHTTPClient
import Foundation

public struct SNSConfiguration: Sendable {
    public var endpoint: URL
    public var region: String
    public var credentials: AWSCredentials
    public var timeout: Duration

    public init(endpoint: URL, region: String = "us-east-1", credentials: AWSCredentials, timeout: Duration = .seconds(5)) {
        self.endpoint = endpoint
        self.region = region
        self.credentials = credentials
        self.timeout = timeout
    }
}

/// Amazon SNS over its Query API (form-encoded POSTs, XML answers, SigV4 with service `sns`):
/// mobile push through platform applications and endpoints (FCM and APNs behind SNS), and SMS
/// to a phone number. Errors are `AWSError`s with SNS's codes (`EndpointDisabled`,
/// `InvalidParameter`, `NotFound`, `Throttling`).
public struct SNSClient: Sendable {
    public let configuration: SNSConfiguration
    let transport: AWSTransport

    public init(configuration: SNSConfiguration, http: HTTPClient = .shared) {
        self.configuration = configuration
        transport = AWSTransport(signer: SigV4Signer(credentials: configuration.credentials, region: configuration.region, service: "sns"),
                                 http: http, timeout: configuration.timeout)
    }

    /// A platform application (`GCM`, `APNS`, `APNS_SANDBOX`) — one per app and OS.
    public func createPlatformApplication(name: String, platform: String, credential: String) async throws -> String {
        let body = try await call("CreatePlatformApplication", ["Name": name, "Platform": platform],
                                  attributes: ["PlatformCredential": credential])
        return try Self.required("PlatformApplicationArn", in: body)
    }

    /// The device's endpoint; SNS answers the existing one for a token it knows.
    public func createPlatformEndpoint(application: String, token: String, userData: String? = nil) async throws -> String {
        var parameters = ["PlatformApplicationArn": application, "Token": token]
        if let userData { parameters["CustomUserData"] = userData }
        return try Self.required("EndpointArn", in: try await call("CreatePlatformEndpoint", parameters))
    }

    public func endpointAttributes(_ endpoint: String) async throws -> [String: String] {
        Self.entries(in: try await call("GetEndpointAttributes", ["EndpointArn": endpoint]))
    }

    public func setEndpointAttributes(_ endpoint: String, _ attributes: [String: String]) async throws {
        _ = try await call("SetEndpointAttributes", ["EndpointArn": endpoint], attributes: attributes)
    }

    public func deleteEndpoint(_ endpoint: String) async throws {
        _ = try await call("DeleteEndpoint", ["EndpointArn": endpoint])
    }

    /// A push to one endpoint: `message` is the per-platform JSON (`MessageStructure=json`);
    /// `attributes` carry TTLs and collapse ids (`AWS.SNS.MOBILE.APNS.COLLAPSE_ID`, …).
    /// Returns SNS's message id.
    public func publish(toEndpoint endpoint: String, json message: String, attributes: [String: String] = [:]) async throws -> String {
        try Self.required("MessageId", in: try await call("Publish", ["TargetArn": endpoint, "Message": message, "MessageStructure": "json"],
                                                         messageAttributes: attributes))
    }

    /// An SMS (transactional) to an E.164 number.
    public func publish(toPhone number: String, text: String, senderID: String? = nil) async throws -> String {
        var attributes = ["AWS.SNS.SMS.SMSType": "Transactional"]
        if let senderID { attributes["AWS.SNS.SMS.SenderID"] = senderID }
        return try Self.required("MessageId", in: try await call("Publish", ["PhoneNumber": number, "Message": text], messageAttributes: attributes))
    }

    // MARK: the Query protocol

    func call(_ action: String, _ parameters: [String: String], attributes: [String: String] = [:],
              messageAttributes: [String: String] = [:]) async throws -> String {
        var fields = parameters
        fields["Action"] = action
        fields["Version"] = "2010-03-31"
        for (index, (key, value)) in attributes.sorted(by: { $0.key < $1.key }).enumerated() {
            fields["Attributes.entry.\(index + 1).key"] = key
            fields["Attributes.entry.\(index + 1).value"] = value
        }
        for (index, (name, value)) in messageAttributes.sorted(by: { $0.key < $1.key }).enumerated() {
            fields["MessageAttributes.entry.\(index + 1).Name"] = name
            fields["MessageAttributes.entry.\(index + 1).Value.DataType"] = "String"
            fields["MessageAttributes.entry.\(index + 1).Value.StringValue"] = value
        }
        let form = fields.sorted { $0.key < $1.key }.map { "\(SigV4Signer.encode($0.key))=\(SigV4Signer.encode($0.value))" }.joined(separator: "&")
        let response = try await transport.send("POST", configuration.endpoint, body: Array(form.utf8),
                                                headers: ["content-type": "application/x-www-form-urlencoded; charset=utf-8"])
        guard (200..<300).contains(response.status) else { throw AWSError.parse(status: response.status, body: response.body) }
        return response.body
    }

    static func required(_ element: String, in body: String) throws -> String {
        guard let value = XMLText.first(element, in: body) else { throw AWSError(status: 200, code: "MalformedResponse", message: "no <\(element)>") }
        return value
    }

    /// `<entry><key>K</key><value>V</value></entry>` pairs of an attributes answer.
    static func entries(in body: String) -> [String: String] {
        var result: [String: String] = [:]
        var rest = body[...]
        while let start = rest.range(of: "<entry>"), let end = rest.range(of: "</entry>", range: start.upperBound..<rest.endIndex) {
            let entry = String(rest[start.upperBound..<end.lowerBound])
            if let key = XMLText.first("key", in: entry) { result[key] = XMLText.first("value", in: entry) ?? "" }
            rest = rest[end.upperBound...]
        }
        return result
    }
}
