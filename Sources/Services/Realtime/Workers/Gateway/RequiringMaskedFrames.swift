import NIOCore
import NIOWebSocket

/// RFC 6455 5.1: a server fails the connection on a client frame that is not masked. This sits
/// before the frame aggregator because the aggregator unmasks the fragments it joins and hands on
/// a frame without a mask key: checked after it, every fragmented message would look unmasked.
/// The first unmasked frame becomes an error the socket handler answers with the protocol's
/// bad-request code; what follows it is dropped.
final class RequiringMaskedFrames: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = WebSocketFrame
    typealias InboundOut = WebSocketFrame

    struct UnmaskedFrame: Error {}

    private var failed = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        guard unwrapInboundIn(data).maskKey != nil else {
            failed = true
            context.fireErrorCaught(UnmaskedFrame())
            return
        }
        context.fireChannelRead(data)
    }
}
