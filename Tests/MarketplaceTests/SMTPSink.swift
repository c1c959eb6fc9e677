import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private aiosmtpd (the project's SMTP sink) on a free port with its own Maildir, which a test
/// can stop and start again on the same port (an outage mid-test).
final class SMTPSink: @unchecked Sendable {
    let port: Int
    let maildir: URL
    private var process: ChildProcess?
    /// Certificate and key for STARTTLS (a self-signed pair made for the sink), when asked for.
    private let tls: (cert: String, key: String)?

    struct Message: Sendable {
        var headers: [String: String]
        /// Decoded text parts by content type (`text/plain`, `text/html`).
        var parts: [String: String]
        var to: String { headers["to"] ?? "" }
        var subject: String { SMTPSink.decodeWord(headers["subject"] ?? "") }
        var text: String { parts["text/plain"] ?? "" }
    }

    /// `startTLS`: the sink offers STARTTLS and refuses mail without it (aiosmtpd's require_starttls).
    init(startTLS: Bool = false) async throws {
        maildir = FileManager.default.temporaryDirectory.appendingPathComponent(TestServers.unique("maildir"))
        for sub in ["tmp", "new", "cur"] {
            try FileManager.default.createDirectory(at: maildir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        port = Self.freePort()
        if startTLS {
            let cert = maildir.appendingPathComponent("cert.pem").path, key = maildir.appendingPathComponent("key.pem").path
            let status = try await ChildProcess(["/usr/bin/openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                                                 "-days", "1", "-subj", "/CN=127.0.0.1"]).exitStatus()
            guard status == 0 else { throw CocoaError(.fileWriteUnknown) }
            tls = (cert, key)
        } else {
            tls = nil
        }
        try await start()
    }

    func start() async throws {
        let python = DeploymentFilesTests.root.appendingPathComponent(".stack/venv/bin/python").path
        let tlsArguments = tls.map { ["--tlscert", $0.cert, "--tlskey", $0.key] } ?? []
        process = try ChildProcess([python, "-m", "aiosmtpd", "-n", "-l", "127.0.0.1:\(port)"] + tlsArguments
                                   + ["-c", "aiosmtpd.handlers.Mailbox", maildir.path])
        let port = self.port
        guard try await eventually(timeout: .seconds(20), { Self.isOpen(port) }) else { throw CocoaError(.fileReadUnknown) }
    }

    func stop() async {
        await process?.signal(SIGKILL)
        process = nil
    }

    /// What arrived so far, oldest first.
    func messages() throws -> [Message] {
        let directory = maildir.appendingPathComponent("new")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
        return try files.map { try Self.parse(String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8)) }
    }

    func messages(to address: String) throws -> [Message] { try messages().filter { $0.to.contains(address) } }

    static func parse(_ raw: String) -> Message {
        let text = raw.replacingOccurrences(of: "\r\n", with: "\n")
        let (head, body) = split(text)
        let headers = headerMap(head)
        var parts: [String: String] = [:]
        let type = headers["content-type"] ?? "text/plain"
        if type.hasPrefix("multipart/"), let range = type.range(of: "boundary=\"") {
            let boundary = String(type[range.upperBound...].prefix { $0 != "\"" })
            for chunk in body.components(separatedBy: "--\(boundary)") {
                let (partHead, partBody) = split(chunk.trimmingCharacters(in: .newlines))
                let partHeaders = headerMap(partHead)
                guard let partType = partHeaders["content-type"]?.split(separator: ";").first.map(String.init) else { continue }
                parts[partType] = decodeBody(partBody, encoding: partHeaders["content-transfer-encoding"])
            }
        } else {
            parts[String(type.split(separator: ";").first ?? "text/plain")] = decodeBody(body, encoding: headers["content-transfer-encoding"])
        }
        return Message(headers: headers, parts: parts)
    }

    static func split(_ text: String) -> (String, String) {
        guard let range = text.range(of: "\n\n") else { return (text, "") }
        return (String(text[..<range.lowerBound]), String(text[range.upperBound...]))
    }

    static func headerMap(_ head: String) -> [String: String] {
        var result: [String: String] = [:]
        for line in head.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return result
    }

    static func decodeBody(_ body: String, encoding: String?) -> String {
        guard encoding?.lowercased() == "base64" else { return body }
        let joined = body.split(separator: "\n").joined()
        return Data(base64Encoded: joined).map { String(decoding: $0, as: UTF8.self) } ?? body
    }

    /// `=?UTF-8?B?…?=` back to text.
    static func decodeWord(_ value: String) -> String {
        guard value.hasPrefix("=?UTF-8?B?"), value.hasSuffix("?=") else { return value }
        let encoded = value.dropFirst(10).dropLast(2)
        return Data(base64Encoded: String(encoded)).map { String(decoding: $0, as: UTF8.self) } ?? value
    }

    static func isOpen(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    static func freePort() -> Int {
        while true {
            let port = Int.random(in: 20_000...40_000)
            if !isOpen(port) { return port }
        }
    }
}
