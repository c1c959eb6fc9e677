/// An access key pair (and, for temporary credentials, the session token) that signs requests.
public struct AWSCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessKeyID: String
    public var secretAccessKey: String
    public var sessionToken: String?

    public init(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyID = accessKeyID
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }

    /// Never the secret: credentials end up in logs through string interpolation.
    public var description: String { "AWSCredentials(\(accessKeyID), secret: <redacted>)" }
}
