import NIOCore

/// One SMTP reply (RFC 5321 §4.2): a three-digit code and its lines (`250-…` continued, `250 …` last).
public struct SMTPReply: Sendable, Equatable {
    public var code: Int
    public var lines: [String]

    public var isPositive: Bool { (200..<400).contains(code) }
    /// 4yz: try again later (mailbox busy, server shutting down); 5yz is final.
    public var isTransient: Bool { (400..<500).contains(code) }
    public var text: String { lines.joined(separator: " ") }
}

/// Bytes to replies: collects continuation lines until the line with a space after the code.
struct SMTPReplyDecoder: ByteToMessageDecoder {
    typealias InboundOut = SMTPReply
    private var pending: [String] = []

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 4_096 { throw SMTPError.protocolViolation("reply line longer than 4 KiB") }
            return .needMoreData
        }
        let length = newline - buffer.readerIndex + 1
        var line = buffer.readString(length: length) ?? ""
        while line.last == "\n" || line.last == "\r" { line.removeLast() }
        let characters = Array(line.utf8)
        guard characters.count >= 3, let code = Int(String(decoding: characters[0..<3], as: UTF8.self)) else {
            throw SMTPError.protocolViolation("not a reply: \(line.prefix(80))")
        }
        let last = characters.count == 3 || characters[3] != UInt8(ascii: "-")
        pending.append(characters.count > 4 ? String(decoding: characters[4...], as: UTF8.self) : "")
        if last {
            context.fireChannelRead(wrapInboundOut(SMTPReply(code: code, lines: pending)))
            pending = []
        }
        return .continue
    }
}
