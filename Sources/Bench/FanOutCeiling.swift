import Foundation
import MarketplaceContracts
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOWebSocket
import Synchronization

/// The ceiling for deliveries per second: a bare NIO WebSocket server (no protocol, no Kafka, no
/// Redis, no queues) that answers the load clients' hello as if subscribed and, once all are,
/// writes them the same publications — all of them in one WebSocket message per client, the
/// least work a server can do to get those bytes to those clients. Run as its own process
/// (`marketplace bench fanout-ceiling`) so that it shares the machine with the load process the
/// way the gateway does.
public struct FanOutCeiling: Sendable {
    public var port: Int
    public var publications: Int

    public init(port: Int, publications: Int) {
        self.port = port
        self.publications = publications
    }

    /// One round at a time: the clients' hello says how many subscribers the round has.
    final class Registry: Sendable {
        let channels = Mutex<[any Channel]>([])
        let message: String
        init(message: String) { self.message = message }

        func subscribed(_ channel: any Channel, of wanted: Int) {
            let all: [any Channel]? = channels.withLock { channels in
                channels.append(channel)
                guard channels.count >= wanted else { return nil }
                defer { channels = [] }
                return channels
            }
            guard let all else { return }
            // Everyone is subscribed: publish to all, each event loop writing to its own channels.
            for channel in all {
                channel.eventLoop.execute {
                    var buffer = channel.allocator.buffer(capacity: self.message.utf8.count)
                    buffer.writeString(self.message)
                    channel.writeAndFlush(WebSocketFrame(fin: true, opcode: .text, data: buffer), promise: nil)
                }
            }
        }
    }

    /// Serves rounds (each: N clients say hello with N, then get `publications` each) until killed.
    public func run() async throws {
        let frames = (1...max(1, publications)).map { offset in
            #"{"push":{"channel":"user:ceiling","pub":{"data":{"t":0,"lat":38.7,"lng":-9.1},"offset":\#(offset)}}}"#
        }
        let registry = Registry(message: frames.joined(separator: "\n"))
        let upgrader = NIOWebSocketServerUpgrader(
            shouldUpgrade: { channel, _ in channel.eventLoop.makeSucceededFuture(HTTPHeaders()) },
            upgradePipelineHandler: { channel, _ in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(CeilingHandler(registry: registry)) }
            })
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline(withServerUpgrade: (upgraders: [upgrader], completionHandler: { _ in }))
            }
            .bind(host: "127.0.0.1", port: port).get()
        try await server.closeFuture.get()
    }

    final class CeilingHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = WebSocketFrame
        typealias OutboundOut = WebSocketFrame
        let registry: Registry
        var hello = false
        init(registry: Registry) { self.registry = registry }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let frame = unwrapInboundIn(data)
            guard frame.opcode == .text, !hello else { return }
            hello = true
            var text = frame.unmaskedData
            let wanted = Int(text.readString(length: text.readableBytes)?.split(separator: ":").last ?? "") ?? 1
            var reply = context.channel.allocator.buffer(capacity: 64)
            reply.writeString(#"{"id":1,"connect":{}}"# + "\n" + #"{"id":2,"subscribe":{}}"#)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: reply)), promise: nil)
            registry.subscribed(context.channel, of: wanted)
        }
    }
}
