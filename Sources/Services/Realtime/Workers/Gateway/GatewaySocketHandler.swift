import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import Logging
import MarketplaceContracts
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1
import NIOWebSocket
import Synchronization

/// One WebSocket client, on its channel's event loop. Inbound: protocol commands (in order, by a
/// short-lived task while some are pending), pings, close. Outbound: the connection's send queue,
/// written whenever the socket accepts more; the close frame with the protocol's code at the end.
/// (`@unchecked Sendable`: its mutable state is touched only on the channel's event loop — the
/// scheduler and the wake closure reach it through `eventLoop.execute`.)
final class GatewaySocketHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let gateway: RealtimeGateway
    private var context: ChannelHandlerContext?
    private(set) var connection: ClientConnection?
    private var closing = false

    init(gateway: RealtimeGateway) { self.gateway = gateway }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        let scheduler = gateway.scheduler(for: context.eventLoop)
        let channel = context.channel
        let connection = ClientConnection(configuration: gateway.configuration,
                                          wake: { [weak self] in if let self { scheduler.schedule(self) } },
                                          setReading: { [gateway] reading in
                                              if !reading { gateway.readPaused() }
                                              channel.eventLoop.execute { channel.setOption(.autoRead, value: reading).whenFailure { _ in } }
                                          },
                                          abort: { channel.close(promise: nil) })
        self.connection = connection
        gateway.opened(connection)
    }

    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    func channelInactive(context: ChannelHandlerContext) {
        if let connection {
            connection.finished()
            gateway.closed(connection)
        }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        guard let connection else { return }
        switch frame.opcode {
        case .text:
            var data = frame.unmaskedData
            let text = data.readString(length: data.readableBytes) ?? ""
            if text == "{}" { connection.pongReceived(); return }  // the protocol's pong, the most frequent message
            if connection.receive(text) { gateway.startCommands(for: connection) }
        case .binary:
            connection.disconnect(.badRequest, dropPending: false)  // the JSON protocol is text only
        case .ping:
            var pong = frame.unmaskedData
            pong.reserveCapacity(pong.readableBytes)
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .pong, data: pong)), promise: nil)
        case .connectionClose:
            // The client closes: answer in kind, then the transport ends.
            closing = true
            var data = frame.unmaskedData
            let code = data.readInteger(as: UInt16.self) ?? 1000
            var reply = context.channel.allocator.buffer(capacity: 2)
            reply.writeInteger(code)
            let channel = context.channel
            context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: reply))).whenComplete { _ in
                channel.close(promise: nil)
            }
        case .pong:
            break  // unsolicited pongs are allowed (RFC 6455 5.5.3)
        default:
            connection.disconnect(.badRequest, dropPending: true)  // a reserved opcode: fail the connection (5.2)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        switch event {
        case ChannelEvent.inputClosed:
            // The server allows half-closure (Hummingbird's HTTP needs it): a WebSocket client
            // that sent FIN is gone, and its connection must not linger half-open.
            connection?.finished()
            context.close(promise: nil)
        default:
            context.fireUserInboundEventTriggered(event)
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { drain() }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let connection else { context.close(promise: nil); return }
        switch error {
        case NIOWebSocketError.invalidFrameLength, NIOWebSocketFrameAggregator.Error.accumulatedFrameSizeIsTooLarge:
            connection.disconnect(.messageTooLarge, dropPending: true)
        case is NIOWebSocketError, is NIOWebSocketFrameAggregator.Error, is ByteToMessageDecoderError, is RequiringMaskedFrames.UnmaskedFrame:
            // (After a decoding error, the decoder refuses what follows: the first reason stands.)
            connection.disconnect(.badRequest, dropPending: true)
        default:
            context.close(promise: nil)  // the transport broke (reset, ...)
        }
    }

    /// Writes what the send queue holds while the socket accepts more; at the end of the queue
    /// after a disconnect, the close frame with its code. Runs on the event loop.
    func drain() {
        guard let context, let connection, !closing else { return }
        var wrote = false
        loop: while true {
            switch connection.queue.take(writable: context.channel.isWritable) {
            case .frames(let frames):
                context.write(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .text, data: Self.message(frames, allocator: context.channel.allocator))),
                              promise: nil)
                gateway.metrics.framesOut.increment(by: frames.count)
                wrote = true
            case .blocked, .idle:
                break loop
            case .finished:
                close(context, reason: connection.disconnectReason)
                return
            }
        }
        if wrote { context.flush() }
    }

    /// One WebSocket message of newline-separated frames, with room in front for the frame header
    /// (the encoder then writes header and payload as one buffer).
    static func message(_ frames: [String], allocator: ByteBufferAllocator) -> ByteBuffer {
        let size = frames.reduce(frames.count) { $0 + $1.utf8.count }
        var buffer = allocator.buffer(capacity: size + 14)
        buffer.moveWriterIndex(forwardBy: 14)
        buffer.moveReaderIndex(forwardBy: 14)
        for (index, frame) in frames.enumerated() {
            if index > 0 { buffer.writeInteger(UInt8(ascii: "\n")) }
            buffer.writeString(frame)
        }
        return buffer
    }

    private func close(_ context: ChannelHandlerContext, reason: Disconnect?) {
        closing = true
        guard let reason else { context.close(promise: nil); return }
        var data = context.channel.allocator.buffer(capacity: 2 + reason.reason.utf8.count)
        data.writeInteger(UInt16(reason.code))
        data.writeString(reason.reason)
        let channel = context.channel
        context.writeAndFlush(wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data))).whenComplete { _ in
            channel.close(promise: nil)
        }
        // A client that stopped reading never lets the close frame out: end the transport anyway.
        context.eventLoop.scheduleTask(in: .seconds(5)) { channel.close(promise: nil) }
    }
}
