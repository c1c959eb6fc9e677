import Foundation
import MarketplaceContracts

/// The chat's rules, from the `chat.*` configuration: how long a completed job's conversation
/// takes follow-ups, how long closed conversations are kept, and the limits on what a message
/// may carry. Validation here is pure; it names the field that is wrong.
public struct ChatPolicy: Sendable {
    /// Seconds after completion during which members may still write (48 h).
    public var followUpWindow: TimeInterval
    /// Seconds after closing after which messages and attachments are deleted (180 days).
    public var retention: TimeInterval
    public var maxTextLength: Int
    public var maxAttachments: Int
    public var maxAttachmentBytes: Int
    public var attachmentTypes: Set<String>
    /// Token bucket per user: sustained messages per second and burst.
    public var messagesPerSecond: Double
    public var messageBurst: Double
    /// Lifetimes of presigned URLs, seconds.
    public var uploadURLLifetime: Int
    public var downloadURLLifetime: Int

    public init(followUpWindow: TimeInterval = 48 * 3_600, retention: TimeInterval = 180 * 86_400, maxTextLength: Int = 4_000,
                maxAttachments: Int = 10, maxAttachmentBytes: Int = 10 * 1_024 * 1_024,
                attachmentTypes: Set<String> = ["image/jpeg", "image/png", "image/webp", "image/heic", "image/gif", "application/pdf"],
                messagesPerSecond: Double = 5, messageBurst: Double = 5, uploadURLLifetime: Int = 900, downloadURLLifetime: Int = 300) {
        self.followUpWindow = followUpWindow
        self.retention = retention
        self.maxTextLength = maxTextLength
        self.maxAttachments = maxAttachments
        self.maxAttachmentBytes = maxAttachmentBytes
        self.attachmentTypes = attachmentTypes
        self.messagesPerSecond = messagesPerSecond
        self.messageBurst = messageBurst
        self.uploadURLLifetime = uploadURLLifetime
        self.downloadURLLifetime = downloadURLLifetime
    }

    /// A client's id for a message it sends: 1-64 of `A-Z a-z 0-9 - _ . :` (a UUID fits).
    public func validateClientMessageID(_ id: String) throws {
        guard (1...64).contains(id.utf8.count), id.utf8.allSatisfy({ byte in
            (byte >= 0x30 && byte <= 0x3A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F || byte == 0x2E
        }) else {
            throw DomainError.validation("clientMessageId: 1 to 64 characters of letters, digits and - _ . :")
        }
    }

    /// The text as stored (trimmed; nil when empty), or 422 naming `text`.
    public func validateText(_ text: String?, hasAttachments: Bool) throws -> String? {
        let trimmed = text?.trimmingCharacters(in: .whitespacesAndNewlines)
        let value = trimmed?.isEmpty == false ? trimmed : nil
        if let value, value.count > maxTextLength {
            throw DomainError.validation("text: at most \(maxTextLength) characters (got \(value.count))")
        }
        if value == nil && !hasAttachments {
            throw DomainError.validation("text: a message needs text or at least one attachment")
        }
        return value
    }

    public func validateAttachmentCount(_ count: Int) throws {
        guard count <= maxAttachments else { throw DomainError.validation("attachments: at most \(maxAttachments) per message") }
    }

    /// An upload the client announces: a supported type and a size within the limit.
    public func validateUpload(contentType: String, size: Int) throws {
        let type = contentType.lowercased()
        guard attachmentTypes.contains(type) else {
            throw DomainError.validation("contentType: one of \(attachmentTypes.sorted().joined(separator: ", "))")
        }
        guard (1...maxAttachmentBytes).contains(size) else {
            throw DomainError.validation("size: 1 to \(maxAttachmentBytes) bytes")
        }
    }
}
