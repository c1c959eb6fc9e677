import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A WebSocket client on a bare socket that can stop reading: the slow consumer a real library
/// never is. Sends client frames (masked, as RFC 6455 requires); reads only when told to.
/// Its reads block, so they run on a thread of their own: on the cooperative pool (2 threads on
/// a CI node) a read waiting for the in-process gateway starved the gateway and every other
/// test's timers. (`@unchecked Sendable`: one test uses it, one call at a time.)
final class RawWebSocket: @unchecked Sendable {
    let fd: Int32

    /// Connects and completes the upgrade.
    static func open(port: Int, path: String = "/connection/websocket") async throws -> RawWebSocket {
        try await offThePool { try RawWebSocket(port: port, path: path) }
    }

    private init(port: Int, path: String) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var receiveBuffer: Int32 = 4096  // small, so that the server's side fills up sooner
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBuffer, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw POSIXError(.ECONNREFUSED) }
        try write(Array(("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
                         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").utf8))
        var response: [UInt8] = []
        while !response.ends(with: Array("\r\n\r\n".utf8)) {
            var byte: UInt8 = 0
            guard recv(fd, &byte, 1, 0) == 1 else { throw POSIXError(.ECONNRESET) }
            response.append(byte)
        }
        guard String(decoding: response, as: UTF8.self).hasPrefix("HTTP/1.1 101") else { throw POSIXError(.EPROTO) }
    }

    deinit { close(fd) }

    /// Sends FIN without a close frame (a client that just goes away).
    func hangUp() { shutdown(fd, Int32(SHUT_WR)) }

    func sendText(_ text: String) throws { try sendFrame(opcode: 0x1, payload: Array(text.utf8)) }

    /// Any client frame: `fin` false leaves a message open for continuation frames (opcode 0);
    /// `masked` false breaks RFC 6455 5.1 (what a broken or hostile client sends).
    func sendFrame(opcode: UInt8, fin: Bool = true, masked: Bool = true, payload: [UInt8]) throws {
        let maskBit: UInt8 = masked ? 0x80 : 0
        var frame: [UInt8] = [(fin ? 0x80 : 0) | opcode]
        if payload.count < 126 {
            frame.append(maskBit | UInt8(payload.count))
        } else {
            frame.append(maskBit | 126)
            frame += [UInt8(payload.count >> 8), UInt8(payload.count & 0xff)]
        }
        if masked {
            let mask: [UInt8] = [1, 2, 3, 4]
            frame += mask
            frame += payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
        } else {
            frame += payload
        }
        try write(frame)
    }

    private func write(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw POSIXError(.EPIPE) }
            sent += n
        }
    }

    /// The next server frame (opcode and payload), or nil when nothing comes within `timeout`.
    func readFrame(timeout: TimeInterval) async -> (opcode: UInt8, payload: [UInt8])? {
        await Self.offThePool { self.blockingReadFrame(timeout: timeout) }
    }

    /// Reads everything until the server closes; returns the close code, if a close frame came.
    func drainUntilClosed(timeout: TimeInterval) async -> Int? {
        await Self.offThePool { self.blockingDrainUntilClosed(timeout: timeout) }
    }

    private static func offThePool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            Thread { continuation.resume(with: Result { try body() }) }.start()
        }
    }

    private static func offThePool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: body()) }.start()
        }
    }

    private func blockingReadFrame(timeout: TimeInterval) -> (opcode: UInt8, payload: [UInt8])? {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        func read(_ count: Int) -> [UInt8]? {
            var bytes = [UInt8](repeating: 0, count: count), got = 0
            while got < count {
                let n = bytes[got...].withUnsafeMutableBytes { recv(fd, $0.baseAddress, count - got, 0) }
                guard n > 0 else { return nil }
                got += n
            }
            return bytes
        }
        guard let head = read(2) else { return nil }
        var length = Int(head[1] & 0x7f)
        if length == 126 { guard let ext = read(2) else { return nil }; length = Int(ext[0]) << 8 | Int(ext[1]) }
        else if length == 127 { guard let ext = read(8) else { return nil }; length = ext.reduce(0) { $0 << 8 | Int($1) } }
        guard let payload = read(length) else { return nil }
        return (head[0] & 0x0f, payload)
    }

    private func blockingDrainUntilClosed(timeout: TimeInterval) -> Int? {
        var tv = timeval(tv_sec: Int(timeout), tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            data += buffer[0..<n]
        }
        // Walk the frames; the close frame (opcode 8) carries the code in its first two bytes.
        var index = 0
        while index + 2 <= data.count {
            let opcode = data[index] & 0x0f
            var length = Int(data[index + 1] & 0x7f)
            var header = 2
            if length == 126, index + 4 <= data.count { length = Int(data[index + 2]) << 8 | Int(data[index + 3]); header = 4 }
            else if length == 127, index + 10 <= data.count {
                length = (2..<10).reduce(0) { $0 << 8 | Int(data[index + $1]) }; header = 10
            }
            if opcode == 8, index + header + 2 <= data.count { return Int(data[index + header]) << 8 | Int(data[index + header + 1]) }
            index += header + length
        }
        return nil
    }
}

extension Array where Element == UInt8 {
    func ends(with suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
