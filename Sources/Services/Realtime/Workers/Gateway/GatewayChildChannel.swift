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

/// The gateway's server channel: HTTP/1.1 for the platform's routes (health, metrics) and the
/// WebSocket upgrade on `/connection/websocket`, after which the connection lives entirely in
/// NIO: a `GatewaySocketHandler` on the channel's event loop, no task and no async stream per
/// connection (docs/decisions/0004-gateway-websocket-transport.md says why: memory per
/// connection and deliveries per second).
struct GatewayChildChannel: ServerChildChannel, HTTPChannelHandler {
    enum UpgradeResult: Sendable {
        case websocket
        case notUpgraded(NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>)
    }

    struct Value: ServerChildChannelValue {
        let upgradeResult: EventLoopFuture<UpgradeResult>
        let channel: any Channel
    }

    let responder: HTTPChannelHandler.Responder
    let gateway: RealtimeGateway
    static let path = "/connection/websocket"

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            // Small receive buffers: a client sends a few hundred bytes now and then, and NIO keeps
            // the last buffer per channel between reads.
            try channel.syncOptions?.setOption(.recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 256, initial: 1024, maximum: 65_536))
            let gateway = self.gateway
            let upgrader = NIOTypedWebSocketServerUpgrader<UpgradeResult>(
                maxFrameSize: gateway.configuration.maxMessageBytes,
                enableAutomaticErrorHandling: false,  // the handler answers with the protocol's codes
                shouldUpgrade: { channel, head in
                    let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
                    return channel.eventLoop.makeSucceededFuture(path == Self.path ? HTTPHeaders() : nil)
                },
                upgradePipelineHandler: { channel, _ in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(RequiringMaskedFrames())
                        try channel.pipeline.syncOperations.addHandler(NIOWebSocketFrameAggregator(
                            minNonFinalFragmentSize: 0, maxAccumulatedFrameCount: 64, maxAccumulatedFrameSize: gateway.configuration.maxMessageBytes))
                        try channel.pipeline.syncOperations.addHandler(GatewaySocketHandler(gateway: gateway))
                        return .websocket
                    }
                })
            let upgrade = NIOTypedHTTPServerUpgradeConfiguration(
                upgraders: [upgrader],
                notUpgradingCompletionHandler: { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandler(HTTP1ToHTTPServerCodec(secure: false))
                        try channel.pipeline.syncOperations.addHandler(HTTPConnectionStateHandler(idleTimeout: nil, logger: logger))
                        return .notUpgraded(try NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>(
                            wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true)))
                    }
                })
            var configuration = NIOUpgradableHTTPServerPipelineConfiguration<UpgradeResult>(upgradeConfiguration: upgrade)
            configuration.enablePipelining = false
            // Bytes that are not HTTP get a 400 (NIO's protocol error handler), then
            // ClosingOnHTTPParserError ends the connection.
            configuration.enableErrorHandling = true
            configuration.enableResponseHeaderValidation = false
            let result = try channel.pipeline.syncOperations.configureUpgradableHTTPServerPipeline(configuration: configuration)
            try channel.pipeline.syncOperations.addHandler(ClosingOnHTTPParserError())
            return Value(upgradeResult: result, channel: channel)
        }
    }

    /// HTTP requests are served by the router; an upgraded connection needs nothing here (its
    /// handler lives in the channel's pipeline until it closes).
    func handle(value: Value, logger: Logger) async {
        do {
            if case .notUpgraded(let http) = try await value.upgradeResult.get() {
                await handleHTTP(asyncChannel: http, logger: logger)
            }
        } catch {
            logger.debug("connection ended before upgrade: \(error)")
            value.channel.close(promise: nil)
        }
    }
}
