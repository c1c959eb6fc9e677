import Foundation
import MarketplaceContracts

/// Attachments: a member announces an upload (type and size), gets a presigned PUT URL and an
/// object key under the conversation, uploads the bytes straight to object storage, then sends
/// a message that references the key. The service checks that the key is this conversation's
/// and the sender's, and that the object exists within the announced size.
extension ChatService {
    public struct UploadInput: Decodable, Sendable {
        public var contentType: String
        public var size: Int

        public init(contentType: String, size: Int) {
            self.contentType = contentType
            self.size = size
        }
    }

    public struct UploadTicket: Codable, Sendable, Equatable {
        public var key: String
        public var uploadUrl: String
        public var method: String
        /// Headers the upload must carry as they are (they are signed).
        public var headers: [String: String]
        public var expiresAt: Date
    }

    public func createUpload(_ caller: Caller, jobID: String, _ input: UploadInput) async throws -> UploadTicket {
        let conversation = try await visibleConversation(caller, jobID: jobID)
        guard conversation.member(caller.userID) != nil else {
            throw DomainError(kind: .forbidden, code: "not_a_member", title: "Only the job's client and provider attach files")
        }
        let now = Date()
        guard conversation.status(at: now).isWritable else { throw Self.closed(conversation, now: now) }
        try policy.validateUpload(contentType: input.contentType, size: input.size)
        let contentType = input.contentType.lowercased()
        let key = "chat/\(jobID)/\(UUID().uuidString.lowercased())"
        try await uploads.insert(AttachmentUpload(_id: key, conversationId: jobID, uploaderId: caller.userID, contentType: contentType,
                                                  size: input.size, createdAt: now))
        let url = store.uploadURL(key: key, contentType: contentType, expires: policy.uploadURLLifetime)
        return UploadTicket(key: key, uploadUrl: url.absoluteString, method: "PUT", headers: ["Content-Type": contentType],
                            expiresAt: now.addingTimeInterval(TimeInterval(policy.uploadURLLifetime)))
    }

    /// The attachments a message may carry, each named `attachments[i]` when refused (422).
    func checkedAttachments(_ keys: [String], conversation: String, sender: String) async throws -> [ChatEvents.Attachment] {
        var result: [ChatEvents.Attachment] = []
        for (index, key) in keys.enumerated() {
            let field = "attachments[\(index)]"
            guard !result.contains(where: { $0.key == key }) else { throw DomainError.validation("\(field): '\(key)' is listed twice") }
            guard let upload = try await uploads.find(key), upload.conversationId == conversation, upload.uploaderId == sender else {
                throw DomainError.validation("\(field): '\(key)' is not an upload of yours in this conversation")
            }
            let stored: Int?
            do {
                stored = try await store.storedSize(key: key)
            } catch {
                throw DomainError(kind: .unavailable, code: "storage_unavailable", title: "Attachment storage does not answer", detail: "\(error)", retryAfter: 1)
            }
            guard let size = stored else { throw DomainError.validation("\(field): nothing was uploaded to '\(key)' yet") }
            guard size <= upload.size else {
                throw DomainError.validation("\(field): the upload has \(size) bytes, more than the \(upload.size) announced")
            }
            result.append(ChatEvents.Attachment(key: key, contentType: upload.contentType, size: size))
        }
        return result
    }
}
