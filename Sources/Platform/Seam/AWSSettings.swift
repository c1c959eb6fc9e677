import Foundation
import MarketplaceAWS

/// The shared `aws.*` section every AWS client reads: `endpoint` (moto at
/// http://127.0.0.1:5055 in development; each service's regional endpoint in production),
/// `region` (us-east-1), `access.key.id` and `secret.access.key` (required in production).
public struct AWSSettings: Sendable {
    public var region: String
    public var credentials: AWSCredentials
    /// Set when `aws.endpoint` is configured (or in development): one endpoint for every service.
    public var endpoint: URL?

    public init(section: ConfigurationSection, production: Bool) throws {
        region = try section.string("region", default: "us-east-1")
        let endpointText = try section.optionalString("endpoint") ?? (production ? nil : "http://127.0.0.1:5055")
        if let endpointText {
            guard let url = URL(string: endpointText), url.scheme == "http" || url.scheme == "https", url.host != nil else {
                throw ConfigurationError(key: "aws.endpoint", value: endpointText, reason: "expected an http(s) URL")
            }
            endpoint = url
        }
        let keyID = try section.secret("access.key.id")
        let secret = try section.secret("secret.access.key")
        if production, keyID == nil || secret == nil {
            throw ConfigurationError(key: keyID == nil ? "aws.access.key.id" : "aws.secret.access.key", value: "", reason: "required in production mode")
        }
        credentials = AWSCredentials(accessKeyID: keyID ?? "testing", secretAccessKey: secret ?? "testing")
    }

    /// The endpoint of `service` ("s3", "sns"): the configured one, or the region's.
    public func endpoint(of service: String) -> URL {
        endpoint ?? URL(string: "https://\(service).\(region).amazonaws.com")!
    }
}

extension S3Configuration {
    public init(aws: AWSSettings, bucket: String) {
        self.init(endpoint: aws.endpoint(of: "s3"), bucket: bucket, region: aws.region, credentials: aws.credentials)
    }
}

extension SNSConfiguration {
    public init(aws: AWSSettings) {
        self.init(endpoint: aws.endpoint(of: "sns"), region: aws.region, credentials: aws.credentials)
    }
}
