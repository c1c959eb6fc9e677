import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Where objects live: an S3 endpoint (AWS's regional endpoint in production, moto's server
/// locally), a bucket, a region and credentials. Requests use path-style addressing
/// (`<endpoint>/<bucket>/<key>`), which AWS and every S3 emulator accept.
public struct S3Configuration: Sendable {
    public var endpoint: URL
    public var bucket: String
    public var region: String
    public var credentials: AWSCredentials
    public var timeout: Duration

    public init(endpoint: URL, bucket: String, region: String = "us-east-1", credentials: AWSCredentials, timeout: Duration = .seconds(5)) {
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.credentials = credentials
        self.timeout = timeout
    }
}

/// The S3 operations the platform uses: presigned uploads and downloads (clients move the bytes,
/// never our servers), HEAD to confirm an upload, DELETE for retention, and PUT/bucket creation
/// for local setups and tests. Every request is SigV4-signed.
public struct S3Client: Sendable {
    public struct ObjectInfo: Sendable, Equatable {
        public var size: Int
        public var contentType: String?
    }

    public let configuration: S3Configuration
    let signer: SigV4Signer
    let transport: AWSTransport

    public init(configuration: S3Configuration, http: HTTPClient = .shared) {
        self.configuration = configuration
        signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region, service: "s3")
        transport = AWSTransport(signer: signer, http: http, timeout: configuration.timeout)
    }

    /// `<endpoint>/<bucket>/<key>`, the key's segments percent-encoded.
    public func url(for key: String) -> URL {
        URL(string: "\(bucketURL.absoluteString)/\(SigV4Signer.encode(key, keepSlash: true))")!
    }

    /// `<endpoint>/<bucket>` (path-style).
    var bucketURL: URL {
        var base = configuration.endpoint.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        return URL(string: "\(base)/\(SigV4Signer.encode(configuration.bucket))")!
    }

    /// A URL the holder PUTs the object to with exactly this `Content-Type`, until `expires` seconds pass.
    public func presignedUpload(key: String, contentType: String, expires: Int, now: Date = Date()) -> URL {
        let target = url(for: key)
        return signer.presign(method: "PUT", url: target, headers: ["host": Self.hostHeader(target), "content-type": contentType], expires: expires, date: now)
    }

    /// A URL that GETs the object until `expires` seconds pass.
    public func presignedDownload(key: String, expires: Int, now: Date = Date()) -> URL {
        let target = url(for: key)
        return signer.presign(method: "GET", url: target, headers: ["host": Self.hostHeader(target)], expires: expires, date: now)
    }

    /// The object's size and type, nil when there is no such object.
    public func head(key: String) async throws -> ObjectInfo? {
        let response = try await send("HEAD", url(for: key))
        if response.status == 404 { return nil }
        guard (200..<300).contains(response.status) else { throw AWSError(status: response.status, code: "HTTP\(response.status)", message: "HEAD \(key)") }
        return ObjectInfo(size: Int(response.headers.first(name: "content-length") ?? "") ?? 0, contentType: response.headers.first(name: "content-type"))
    }

    /// Deletes an object; deleting one that is not there succeeds (S3 answers 204 either way).
    public func delete(key: String) async throws {
        let response = try await send("DELETE", url(for: key))
        guard (200..<300).contains(response.status) || response.status == 404 else { throw AWSError.parse(status: response.status, body: response.body) }
    }

    /// Stores bytes under a key (tests and local tools; clients upload through presigned URLs).
    public func put(key: String, bytes: [UInt8], contentType: String) async throws {
        let response = try await send("PUT", url(for: key), body: bytes, headers: ["content-type": contentType])
        guard (200..<300).contains(response.status) else { throw AWSError.parse(status: response.status, body: response.body) }
    }

    /// Creates the bucket when it does not exist (local stacks; production buckets are provisioned).
    public func ensureBucket() async throws {
        let response = try await send("PUT", bucketURL)
        guard (200..<300).contains(response.status) || response.status == 409 else { throw AWSError.parse(status: response.status, body: response.body) }
    }

    func send(_ method: String, _ url: URL, body: [UInt8] = [], headers: [String: String] = [:]) async throws -> AWSTransport.Response {
        try await transport.send(method, url, body: body, headers: headers)
    }

    static func hostHeader(_ url: URL) -> String { AWSTransport.hostHeader(url) }
}

extension S3Client {
    /// Whether the bucket answers (readiness): HEAD on the bucket, 404 when it does not exist.
    public func bucketExists() async throws -> Bool {
        let response = try await send("HEAD", bucketURL)
        guard (200..<300).contains(response.status) else {
            throw AWSError(status: response.status, code: response.status == 404 ? "NoSuchBucket" : "HTTP\(response.status)", message: configuration.bucket)
        }
        return true
    }
}
