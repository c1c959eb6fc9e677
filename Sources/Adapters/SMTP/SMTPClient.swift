import Foundation
import NIOCore
import NIOPosix
import NIOSSL

public struct SMTPConfiguration: Sendable {
    public enum Security: String, Sendable {
        /// Plain TCP (a local sink).
        case none
        /// STARTTLS when the server offers it, plain otherwise.
        case opportunistic
        /// STARTTLS or refuse to send (production).
        case required
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    /// The name this client gives in EHLO.
    public var heloName: String
    public var timeout: Duration
    /// Verify the server's certificate (off only for a self-signed local server).
    public var verifyCertificate: Bool

    public init(host: String, port: Int, security: Security = .opportunistic, username: String? = nil, password: String? = nil,
                heloName: String = "marketplace.local", timeout: Duration = .seconds(15), verifyCertificate: Bool = true) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.heloName = heloName
        self.timeout = timeout
        self.verifyCertificate = verifyCertificate
    }
}

/// A small SMTP client on SwiftNIO (RFC 5321): EHLO, STARTTLS (RFC 3207) when offered or
/// required, AUTH PLAIN or LOGIN (RFC 4954) when credentials are configured, then one message
/// per session (MAIL FROM, RCPT TO, DATA with dot-stuffing). The whole exchange has one
/// deadline; replies are read in order, so a server that stops answering fails the send as a
/// transient timeout rather than hanging a sender.
public struct SMTPClient: Sendable {
    public let configuration: SMTPConfiguration
    let group: any EventLoopGroup

    public init(configuration: SMTPConfiguration, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.configuration = configuration
        self.group = group
    }

    /// Sends `message`; returns the server's answer to the end of DATA (often a queue id).
    public func send(_ message: EmailMessage) async throws -> String {
        let timeout = configuration.timeout
        return try await withThrowingTaskGroup(of: String.self) { group in
            group.addTask { try await self.session(message) }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw SMTPError.timeout
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    private func session(_ message: EmailMessage) async throws -> String {
        let channel: NIOAsyncChannel<SMTPReply, ByteBuffer>
        do {
            channel = try await ClientBootstrap(group: group)
                .connectTimeout(.seconds(5))
                .connect(host: configuration.host, port: configuration.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(SMTPReplyDecoder()))
                        return try NIOAsyncChannel<SMTPReply, ByteBuffer>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw SMTPError.connection("\(configuration.host):\(configuration.port): \(error)")
        }
        return try await channel.executeThenClose { inbound, outbound in
            var replies = inbound.makeAsyncIterator()
            func read(_ command: String) async throws -> SMTPReply {
                guard let reply = try await replies.next() else { throw SMTPError.connection("closed by the server after \(command)") }
                return reply
            }
            func exchange(_ line: String, shown: String? = nil, expect: ClosedRange<Int> = 200...399) async throws -> SMTPReply {
                try await outbound.write(ByteBuffer(string: line + "\r\n"))
                let reply = try await read(shown ?? line)
                guard expect.contains(reply.code) else { throw SMTPError.rejected(command: shown ?? String(line.prefix(40)), reply: reply) }
                return reply
            }
            let greeting = try await read("connect")
            guard greeting.code == 220 else { throw SMTPError.rejected(command: "connect", reply: greeting) }
            var capabilities = try await exchange("EHLO \(configuration.heloName)").lines.map { $0.uppercased() }

            let offersTLS = capabilities.contains { $0.hasPrefix("STARTTLS") }
            if configuration.security == .required && !offersTLS { throw SMTPError.tlsUnavailable }
            if configuration.security != .none && offersTLS {
                _ = try await exchange("STARTTLS", expect: 220...220)
                var tls = TLSConfiguration.makeClientConfiguration()
                if !configuration.verifyCertificate { tls.certificateVerification = .none }
                // SNI carries host names only (RFC 6066): none for an address.
                let isAddress = configuration.host.contains(":") || configuration.host.allSatisfy { $0.isNumber || $0 == "." }
                let handler = try NIOSSLClientHandler(context: try NIOSSLContext(configuration: tls), serverHostname: isAddress ? nil : configuration.host)
                try await channel.channel.pipeline.addHandler(handler, position: .first).get()
                // RFC 3207: the client forgets what it knew and asks again over TLS.
                capabilities = try await exchange("EHLO \(configuration.heloName)").lines.map { $0.uppercased() }
            }

            if let username = configuration.username, let password = configuration.password {
                let auth = capabilities.first { $0.hasPrefix("AUTH") } ?? ""
                if auth.contains("PLAIN") {
                    let token = Data("\u{0}\(username)\u{0}\(password)".utf8).base64EncodedString()
                    _ = try await exchange("AUTH PLAIN \(token)", shown: "AUTH PLAIN", expect: 235...235)
                } else if auth.contains("LOGIN") {
                    _ = try await exchange("AUTH LOGIN", expect: 334...334)
                    _ = try await exchange(Data(username.utf8).base64EncodedString(), shown: "AUTH LOGIN username", expect: 334...334)
                    _ = try await exchange(Data(password.utf8).base64EncodedString(), shown: "AUTH LOGIN password", expect: 235...235)
                } else {
                    throw SMTPError.protocolViolation("credentials are configured but the server offers no AUTH PLAIN or LOGIN")
                }
            }

            _ = try await exchange("MAIL FROM:<\(message.from)>")
            _ = try await exchange("RCPT TO:<\(message.to)>")
            _ = try await exchange("DATA", expect: 354...354)
            let data = Self.dotStuffed(message.rendered()) + ".\r\n"
            let accepted = try await exchange(data, shown: "end of DATA")
            try? await outbound.write(ByteBuffer(string: "QUIT\r\n"))
            _ = try? await replies.next()
            return accepted.text
        }
    }

    /// RFC 5321 §4.5.2: a line that starts with "." gets one more; the message ends in CRLF.
    public static func dotStuffed(_ text: String) -> String {
        var lines = text.components(separatedBy: "\r\n")
        if lines.last == "" { lines.removeLast() }
        return lines.map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n") + "\r\n"
    }
}
