import Foundation
import MarketplaceContracts
import NIOCore
import NIOPosix
import Synchronization

/// The benchmark's WebSocket clients: one NIO channel per connection and nothing else — no task,
/// no frame objects, no JSON parsing — so that thousands of clients on the same two cores as the
/// gateway cost as little as possible. Each client upgrades, sends `connect` and `subscribe` in
/// one frame, answers the protocol's pings, and counts publication pushes by scanning bytes.
final class LoadClients: Sendable {
    final class Counters: Sendable {
        let connected = Atomic<Int>(0)
        let deliveries = Atomic<Int>(0)
        let latencies = Mutex<[Int64]>([])  // microseconds, from sampling clients
        /// When the last of `expected` clients was subscribed.
        let expected = Atomic<Int>(Int.max)
        let allSubscribedAt = Mutex<ContinuousClock.Instant?>(nil)
    }

    let counters = Counters()
    private let channels = Mutex<[any Channel]>([])
    private let host: String
    private let port: Int
    private let path: String
    private let hello: String
    private let timeField: StaticString

    /// `hello` replaces the connect and subscribe commands (the fan-out ceiling's clients);
    /// `timeField` precedes the send time in microseconds in a publication (`"t":` in the
    /// realtime benchmark's data, `t=` in the chat benchmark's message texts).
    init(url: String, token: String, channel: String, hello: String? = nil, timeField: StaticString = "\"t\":") throws {
        self.timeField = timeField
        guard let parsed = URL(string: url), let host = parsed.host, let port = parsed.port else { throw URLError(.badURL) }
        self.host = host
        self.port = port
        self.path = parsed.path.isEmpty ? "/" : parsed.path
        self.hello = hello ?? #"{"id":1,"connect":{"token":"\#(token)"}}"# + "\n" + #"{"id":2,"subscribe":{"channel":"\#(channel)"}}"#
    }

    /// Opens `count` connections, a few hundred at a time (the listener's backlog is finite).
    func open(_ count: Int, sampleEvery: Int) async {
        counters.expected.store(count, ordering: .relaxed)
        let bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        var index = 0
        while index < count {
            let batch = min(200, count - index)
            var futures: [EventLoopFuture<any Channel>] = []
            for k in 0..<batch {
                let handler = LoadClientHandler(request: upgradeRequest, hello: hello, sampling: (index + k) % sampleEvery == 0, counters: counters,
                                                timeField: timeField)
                futures.append(bootstrap.channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(handler) }
                }.connect(host: host, port: port))
            }
            for future in futures {
                if let channel = try? await future.get() { channels.withLock { $0.append(channel) } }
            }
            index += batch
        }
    }

    func closeAll() async {
        let all = channels.withLock { channels in defer { channels = [] }; return channels }
        for channel in all { try? await channel.close() }
    }

    private var upgradeRequest: String {
        "GET \(path) HTTP/1.1\r\nHost: \(host):\(port)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    }
}

/// One client's protocol on its event loop: HTTP upgrade, then server frames (never masked)
/// parsed in place from a cumulation buffer.
final class LoadClientHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: String
    private let hello: String
    private let sampling: Bool
    private let counters: LoadClients.Counters
    private let timeField: StaticString
    private var received: ByteBuffer?
    private var upgraded = false
    private var subscribed = false

    init(request: String, hello: String, sampling: Bool, counters: LoadClients.Counters, timeField: StaticString) {
        self.timeField = timeField
        self.request = request
        self.hello = hello
        self.sampling = sampling
        self.counters = counters
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var incoming = unwrapInboundIn(data)
        if received == nil { received = incoming } else { received!.writeBuffer(&incoming) }
        if !upgraded {
            guard let end = received!.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
            let head = received!.readString(length: end.upperBound - received!.readerIndex) ?? ""
            guard head.hasPrefix("HTTP/1.1 101") else { context.close(promise: nil); return }
            upgraded = true
            send(hello, opcode: 0x1, context: context)
        }
        readFrames(context: context)
        if received!.readableBytes == 0 { received = nil } else { received!.discardReadBytes() }
    }

    private func readFrames(context: ChannelHandlerContext) {
        while var frame = received, frame.readableBytes >= 2 {
            let first = frame.readInteger(as: UInt8.self)!, second = frame.readInteger(as: UInt8.self)!
            var length = Int(second & 0x7f)
            if length == 126 {
                guard let extended = frame.readInteger(as: UInt16.self) else { return }
                length = Int(extended)
            } else if length == 127 {
                guard let extended = frame.readInteger(as: UInt64.self) else { return }
                length = Int(extended)
            }
            guard let payload = frame.readSlice(length: length) else { return }
            received = frame
            switch first & 0x0f {
            case 0x0, 0x1: scan(payload, context: context)
            case 0x8: context.close(promise: nil)
            case 0x9: send(String(buffer: payload), opcode: 0xA, context: context)
            default: break
            }
        }
    }

    private func scan(_ payload: ByteBuffer, context: ChannelHandlerContext) {
        let now = Int64(Date().timeIntervalSince1970 * 1_000_000)
        let result = payload.withUnsafeReadableBytes { RealtimeBenchmark.scan($0.assumingMemoryBound(to: UInt8.self), sampling: sampling, timeField: timeField) }
        for _ in 0..<result.pings { send("{}", opcode: 0x1, context: context) }
        if !subscribed, result.subscribed {
            subscribed = true
            if counters.connected.add(1, ordering: .relaxed).newValue == counters.expected.load(ordering: .relaxed) {
                counters.allSubscribedAt.withLock { $0 = .now }
            }
        }
        if result.pubs > 0 { counters.deliveries.add(result.pubs, ordering: .relaxed) }
        if !result.sent.isEmpty { counters.latencies.withLock { $0.append(contentsOf: result.sent.map { now - $0 }) } }
    }

    /// A client frame: masked as RFC 6455 requires (with a zero key, which leaves the bytes as they are).
    private func send(_ text: String, opcode: UInt8, context: ChannelHandlerContext) {
        let payload = Array(text.utf8)
        var buffer = context.channel.allocator.buffer(capacity: payload.count + 14)
        buffer.writeInteger(0x80 | opcode)
        if payload.count < 126 {
            buffer.writeInteger(0x80 | UInt8(payload.count))
        } else {
            buffer.writeInteger(UInt8(0x80 | 126))
            buffer.writeInteger(UInt16(payload.count))
        }
        buffer.writeInteger(UInt32(0))
        buffer.writeBytes(payload)
        context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) { context.close(promise: nil) }
}
