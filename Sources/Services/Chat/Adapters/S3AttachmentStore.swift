import Foundation
import MarketplaceAWS

/// Attachments in an S3 bucket: presigned PUT/GET for clients, HEAD to confirm an upload,
/// DELETE for retention and erasure.
public struct S3AttachmentStore: AttachmentStore {
    public let s3: S3Client

    public init(s3: S3Client) { self.s3 = s3 }

    public func uploadURL(key: String, contentType: String, expires: Int) -> URL {
        s3.presignedUpload(key: key, contentType: contentType, expires: expires)
    }

    public func downloadURL(key: String, expires: Int) -> URL { s3.presignedDownload(key: key, expires: expires) }

    public func storedSize(key: String) async throws -> Int? { try await s3.head(key: key)?.size }

    public func delete(key: String) async throws { try await s3.delete(key: key) }
}
