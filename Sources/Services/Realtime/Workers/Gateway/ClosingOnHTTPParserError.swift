import NIOCore
import NIOHTTP1

/// Ends a connection whose bytes are not HTTP. NIO's protocol error handler (earlier in the
/// pipeline) has answered 400 with `Connection: close`, but with pipelining off nothing closed the
/// channel: a client sending garbage kept its connection, and its file descriptor, for ever.
/// Other errors pass on (after the upgrade the socket handler answers them with protocol codes).
final class ClosingOnHTTPParserError: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError {
            context.close(promise: nil)
        }
        context.fireErrorCaught(error)
    }
}
