import Foundation

/// Where attachments' bytes live (S3 in production, moto's S3 locally). Clients upload and
/// download with presigned URLs; the service only signs, checks and deletes.
public protocol AttachmentStore: Sendable {
    func uploadURL(key: String, contentType: String, expires: Int) -> URL
    func downloadURL(key: String, expires: Int) -> URL
    /// The stored object's size, nil when nothing was uploaded under the key.
    func storedSize(key: String) async throws -> Int?
    func delete(key: String) async throws
}
