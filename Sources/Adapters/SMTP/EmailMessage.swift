import Foundation

/// An e-mail as the platform sends it: one sender, one recipient, a subject, and the same
/// content as plain text and as HTML (`multipart/alternative`, text first as RFC 2046 asks).
public struct EmailMessage: Sendable, Equatable {
    public var from: String
    public var fromName: String?
    public var to: String
    public var subject: String
    public var text: String
    public var html: String?
    /// Stable across retries, so a receiving system can tell a resend (`Message-ID`).
    public var messageID: String

    public init(from: String, fromName: String? = nil, to: String, subject: String, text: String, html: String?, messageID: String) {
        self.from = from
        self.fromName = fromName
        self.to = to
        self.subject = subject
        self.text = text
        self.html = html
        self.messageID = messageID
    }

    /// The RFC 5322 message, CRLF line endings, bodies in base64 (UTF-8 safe, lines of 76),
    /// non-ASCII header text as RFC 2047 encoded words.
    public func rendered(date: Date = Date()) -> String {
        var headers = [
            "From: \(fromName.map { "\(Self.encodedWord($0)) <\(from)>" } ?? from)",
            "To: \(to)",
            "Subject: \(Self.encodedWord(subject))",
            "Date: \(Self.rfc5322Date(date))",
            "Message-ID: <\(messageID)>",
            "MIME-Version: 1.0",
        ]
        let body: String
        if let html {
            let boundary = "=_mp_\(messageID.filter { $0.isLetter || $0.isNumber }.prefix(40))"
            headers.append("Content-Type: multipart/alternative; boundary=\"\(boundary)\"")
            body = ["--\(boundary)", Self.part("text/plain", text), "--\(boundary)", Self.part("text/html", html), "--\(boundary)--", ""]
                .joined(separator: "\r\n")
        } else {
            headers.append("Content-Type: text/plain; charset=utf-8")
            headers.append("Content-Transfer-Encoding: base64")
            body = Self.base64Lines(text)
        }
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    static func part(_ type: String, _ content: String) -> String {
        "Content-Type: \(type); charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64Lines(content)
    }

    static func base64Lines(_ text: String) -> String {
        let encoded = Data(text.utf8).base64EncodedString()
        var lines: [Substring] = []
        var index = encoded.startIndex
        while index < encoded.endIndex {
            let end = encoded.index(index, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(encoded[index..<end])
            index = end
        }
        return lines.joined(separator: "\r\n") + "\r\n"
    }

    /// ASCII without control characters as is; anything else as `=?UTF-8?B?…?=`.
    static func encodedWord(_ text: String) -> String {
        let plain = text.utf8.allSatisfy { $0 >= 0x20 && $0 < 0x7F }
        return plain ? text : "=?UTF-8?B?\(Data(text.utf8).base64EncodedString())?="
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
