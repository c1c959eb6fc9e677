import CHiredis
import Foundation

/// One blocking hiredis connection. Used by one thread at a time (the pool guarantees it).
final class RedisConnection: @unchecked Sendable {
    private let context: UnsafeMutablePointer<redisContext>
    private(set) var broken = false

    init(host: String, port: Int, timeout: Duration) throws {
        let tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: Int(timeout.components.attoseconds / 1_000_000_000_000) % 1_000_000)
        guard let context = redisConnectWithTimeout(host, Int32(port), tv) else {
            throw RedisError.connection("cannot allocate a connection")
        }
        if context.pointee.err != 0 {
            let message = Self.errorString(context)
            redisFree(context)
            throw RedisError.connection("\(host):\(port): \(message)")
        }
        // Bounds a command against a hung server; also the read timeout of a blocking call.
        redisSetTimeout(context, tv)
        redisEnableKeepAlive(context)
        self.context = context
    }

    /// A connection as `configuration` says: its address, timeout and name.
    convenience init(_ configuration: RedisConfiguration) throws {
        try self.init(host: configuration.host, port: configuration.port, timeout: configuration.timeout)
        if let name = configuration.clientName {
            if case .error(let message) = try command([Array("CLIENT".utf8), Array("SETNAME".utf8), Array(name.utf8)]) {
                throw RedisError.server(message)
            }
        }
    }

    deinit { redisFree(context) }

    /// Sends one command and reads its reply.
    func command(_ arguments: [[UInt8]]) throws -> RedisValue {
        try pipeline([arguments])[0]
    }

    /// Sends every command first, then reads every reply: one round trip for the lot.
    func pipeline(_ commands: [[[UInt8]]]) throws -> [RedisValue] {
        guard !broken else { throw RedisError.connection("connection is broken") }
        for arguments in commands {
            let status = withArgv(arguments) { argc, argv, lengths in
                redisAppendCommandArgv(context, argc, argv, lengths)
            }
            if status != REDIS_OK { throw fail() }
        }
        var replies: [RedisValue] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            if redisGetReply(context, &raw) != REDIS_OK || raw == nil { throw fail() }
            let reply = raw!.assumingMemoryBound(to: redisReply.self)
            replies.append(Self.convert(reply))
            freeReplyObject(raw)
        }
        return replies
    }

    /// Reads the next reply without sending (pub/sub).
    func readReply() throws -> RedisValue {
        var raw: UnsafeMutableRawPointer?
        if redisGetReply(context, &raw) != REDIS_OK || raw == nil { throw fail() }
        defer { freeReplyObject(raw) }
        return Self.convert(raw!.assumingMemoryBound(to: redisReply.self))
    }

    /// Wakes a thread blocked in `readReply` from another thread.
    func interrupt() { shutdown(context.pointee.fd, Int32(SHUT_RDWR)) }

    /// Sets the read timeout (0 = block forever, for subscriptions).
    func setReadTimeout(_ timeout: Duration) {
        let tv = timeval(tv_sec: Int(timeout.components.seconds), tv_usec: 0)
        redisSetTimeout(context, tv)
    }

    private func fail() -> RedisError {
        broken = true
        return .connection(Self.errorString(context))
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    private static func convert(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
        let r = reply.pointee
        switch r.type {
        case REDIS_REPLY_STRING:
            return .bulk(Array(UnsafeRawBufferPointer(start: r.str, count: r.len)))
        case REDIS_REPLY_STATUS:
            return .status(String(decoding: UnsafeRawBufferPointer(start: r.str, count: r.len), as: UTF8.self))
        case REDIS_REPLY_ERROR:
            return .error(String(decoding: UnsafeRawBufferPointer(start: r.str, count: r.len), as: UTF8.self))
        case REDIS_REPLY_INTEGER:
            return .integer(Int(r.integer))
        case REDIS_REPLY_ARRAY:
            return .array((0..<r.elements).map { convert(r.element[$0]!) })
        default:
            return .null
        }
    }

    private func withArgv<T>(_ arguments: [[UInt8]], _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> T) -> T {
        // hiredis copies the arguments into its output buffer, so the pointers only need to live
        // for the call.
        var pointers: [UnsafePointer<CChar>?] = []
        var lengths: [Int] = []
        pointers.reserveCapacity(arguments.count)
        lengths.reserveCapacity(arguments.count)
        var storage: [UnsafeMutableRawPointer] = []
        defer { storage.forEach { $0.deallocate() } }
        for argument in arguments {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(argument.count, 1), alignment: 1)
            argument.withUnsafeBytes { buffer.copyMemory(from: $0.baseAddress ?? UnsafeRawPointer(buffer), byteCount: argument.count) }
            storage.append(buffer)
            pointers.append(UnsafePointer(buffer.assumingMemoryBound(to: CChar.self)))
            lengths.append(argument.count)
        }
        return pointers.withUnsafeMutableBufferPointer { argv in
            lengths.withUnsafeBufferPointer { lens in
                body(Int32(arguments.count), argv.baseAddress!, lens.baseAddress!)
            }
        }
    }
}
