import Foundation
import MarketplaceContracts
import MarketplaceHTTP

/// The protocol's commands. A failed command gets an error reply and the connection goes on;
/// what breaks the protocol itself (malformed JSON, commands before `connect`, an invalid token)
/// ends the connection with a disconnect code.
extension RealtimeGateway {
    func handle(_ text: String, from connection: ClientConnection) async {
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let command = Command.parse(line) else {
                connection.disconnect(.badRequest, dropPending: false)
                return
            }
            if command.isPong {
                connection.pongReceived()
                continue
            }
            if let disconnect = connection.takeCommandToken() {
                if disconnect { connection.disconnect(.tooManyRequests, dropPending: false); return }
                _ = connection.queue.push(Frames.error(command.id, .tooManyRequests))
                continue
            }
            guard let method = command.method else {
                _ = connection.queue.push(Frames.error(command.id, .methodNotFound))
                continue
            }
            if method != .connect, connection.caller == nil {
                connection.disconnect(.badRequest, dropPending: false)  // the protocol starts with connect
                return
            }
            do {
                if let reply = try await execute(method, command, connection) { _ = connection.queue.push(reply) }
            } catch let error as ProtocolError {
                _ = connection.queue.push(Frames.error(command.id, error))
            } catch let disconnect as DisconnectError {
                connection.disconnect(disconnect.reason, dropPending: false)
                return
            } catch {
                logger.warning("command failed: \(error)", metadata: ["method": "\(method.rawValue)"])
                _ = connection.queue.push(Frames.error(command.id, .internal))
            }
        }
    }

    struct DisconnectError: Error { var reason: Disconnect }

    /// The reply to send, or nil when the handler queued it itself (subscribe).
    private func execute(_ method: Command.Method, _ command: Command, _ connection: ClientConnection) async throws -> String? {
        switch method {
        case .connect: return try await connect(command, connection)
        case .refresh: return try await refresh(command, connection)
        case .subscribe: try await subscribe(command, connection); return nil
        case .unsubscribe: return try await unsubscribe(command, connection)
        case .publish: return try await publish(command, connection)
        case .presence: return try await presenceList(command, connection)
        case .presenceStats: return try await presenceStats(command, connection)
        case .history: return try await historyRead(command, connection)
        case .subRefresh, .rpc, .send: throw ProtocolError.notAvailable  // no subscription tokens, no RPC
        }
    }

    // MARK: connect and refresh

    /// Verifies the platform's access token: signature, audience, issuer, live session (a
    /// suspended or logged-out user has none). Expired → error 109 (the SDK fetches a new
    /// token and retries); anything else invalid → disconnect 3500 (terminal).
    private func authenticate(_ token: String?) async throws -> (Caller, Date) {
        guard let token, !token.isEmpty else { throw DisconnectError(reason: .invalidToken) }
        let expiry = TokenExpiry.peek(token)
        do {
            let caller = try await verifier.verify(token)
            return (caller, expiry ?? Date().addingTimeInterval(60))
        } catch {
            logger.info("connection token refused: \(error)")
            if let expiry, expiry <= Date() { throw ProtocolError.tokenExpired }
            throw DisconnectError(reason: .invalidToken)
        }
    }

    private func connect(_ command: Command, _ connection: ClientConnection) async throws -> String {
        guard connection.caller == nil else { throw ProtocolError.badRequest }  // connect once
        connection.authenticationStarted()
        let caller: Caller, expiresAt: Date
        do {
            (caller, expiresAt) = try await authenticate(command.string("token"))
        } catch {
            connection.authenticationRefused()
            throw error
        }
        connection.connected(caller, expiresAt: expiresAt)
        let ttl = max(1, Int(expiresAt.timeIntervalSinceNow.rounded(.down)))
        let ping = Int(configuration.pingInterval.components.seconds)
        return Frames.reply(command.id, "connect",
                            #"{"client":"\#(connection.id)","version":"marketplace-1","expires":true,"ttl":\#(ttl),"ping":\#(ping),"pong":true}"#)
    }

    private func refresh(_ command: Command, _ connection: ClientConnection) async throws -> String {
        let (caller, expiresAt) = try await authenticate(command.string("token"))
        guard caller.userID == connection.caller?.userID else { throw DisconnectError(reason: .invalidToken) }
        connection.refreshed(expiresAt: expiresAt)
        let ttl = max(1, Int(expiresAt.timeIntervalSinceNow.rounded(.down)))
        return Frames.reply(command.id, "refresh", #"{"client":"\#(connection.id)","version":"marketplace-1","expires":true,"ttl":\#(ttl)}"#)
    }

    // MARK: subscriptions

    private func channel(_ command: Command) throws -> RealtimeChannel {
        guard let name = command.string("channel"), let channel = RealtimeChannel(name) else { throw ProtocolError.unknownChannel }
        return channel
    }

    private func jobAccess(_ channel: RealtimeChannel) async throws -> JobAccess? {
        guard let jobID = channel.jobID else { return nil }
        return try await jobs.access(toJob: jobID)
    }

    private func subscribe(_ command: Command, _ connection: ClientConnection) async throws {
        let channel = try channel(command)
        guard let caller = connection.caller, let info = connection.info else { throw ProtocolError.unauthorized }
        guard ChannelPolicy.maySubscribe(user: caller.userID, to: channel, job: try await jobAccess(channel)) else {
            throw ProtocolError.permissionDenied
        }
        switch connection.beginSubscription(channel) {
        case .alreadySubscribed: throw ProtocolError.alreadySubscribed
        case .limitReached: throw ProtocolError.limitExceeded
        case .added: break
        }
        // Registered (holding deliveries) before reading the position: nothing falls in between.
        hub.add(connection, to: channel.name)
        let body: String
        let position: UInt64
        do {
            let wantsRecovery = command.bool("recover")
            if wantsRecovery, let offset = command.uint64("offset"), let epoch = command.string("epoch") {
                let recovery = try await history.recover(channel.name, since: offset, epoch: epoch, limit: configuration.historySize)
                position = max(recovery.position.offset, recovery.publications.last?.offset ?? 0)
                let publications = recovery.publications.map(\.json).joined(separator: ",")
                body = #"{"recoverable":true,"positioned":true,"epoch":"\#(recovery.position.epoch)","offset":\#(position),"# +
                    #""was_recovering":true,"recovered":\#(recovery.recovered),"publications":[\#(publications)]}"#
            } else {
                let current = try await history.position(channel.name)
                position = current.offset
                body = #"{"recoverable":true,"positioned":true,"epoch":"\#(current.epoch)","offset":\#(position)}"#
            }
            if channel.jobID != nil { try await presence.touch([(channel.name, info)]) }
        } catch {
            connection.removeSubscription(channel.name)
            hub.remove(connection, from: channel.name)
            throw error
        }
        metrics.subscriptions.increment()
        if connection.completeSubscription(channel.name, reply: Frames.reply(command.id, "subscribe", body), position: position) == .overflow {
            slow(connection)
        }
        if channel.joinLeave { try? await publisher.send(.join, channel: channel, info: info) }
        // A user's own channel is in presence too (Notifications asks whether they are connected),
        // recorded after the reply: the subscription itself does not wait for Redis.
        if case .user = channel { try? await presence.touch([(channel.name, info)]) }
    }

    private func unsubscribe(_ command: Command, _ connection: ClientConnection) async throws -> String {
        let channel = try channel(command)
        if let subscription = connection.removeSubscription(channel.name) {
            await leave(subscription.channel, connection: connection)
        }
        return Frames.reply(command.id, "unsubscribe")
    }

    /// After a subscription ends: out of the hub and presence, a leave push where enabled.
    func leave(_ channel: RealtimeChannel, connection: ClientConnection) async {
        hub.remove(connection, from: channel.name)
        metrics.subscriptions.decrement()
        guard let info = connection.info else { return }
        if channel.tracksPresence { try? await presence.remove(channel: channel.name, client: info.client) }
        if channel.joinLeave { try? await publisher.send(.leave, channel: channel, info: info) }
    }

    // MARK: publish

    /// Written to Kafka before the reply: acknowledged means every node will deliver it.
    private func publish(_ command: Command, _ connection: ClientConnection) async throws -> String {
        let channel = try channel(command)
        guard let caller = connection.caller, let info = connection.info else { throw ProtocolError.unauthorized }
        guard let data = command.params["data"],
              let bytes = try? JSONSerialization.data(withJSONObject: data, options: [.fragmentsAllowed, .withoutEscapingSlashes]) else {
            throw ProtocolError.badRequest
        }
        guard ChannelPolicy.mayPublish(user: caller.userID, to: channel, job: try await jobAccess(channel)) else {
            throw ProtocolError.permissionDenied
        }
        if case .chat = channel {
            // Messages are stored before anyone gets them (POST /v1/conversations/{jobId}/messages);
            // what members publish here is only the typing indicator, which nobody stores.
            guard let object = data as? [String: Any], object["type"] as? String == "typing" else { throw ProtocolError.chatPublishRefused }
            let typing = #"{"type":"chat.typing","data":{"userId":\#(JSONText.quote(caller.userID))}}"#
            do {
                try await publisher.send(.ephemeral, channel: channel, data: Array(typing.utf8), info: info)
            } catch {
                throw ProtocolError.internal
            }
            metrics.publicationsIn.increment()
            return Frames.reply(command.id, "publish")
        }
        var location: DispatchEvents.LocationUpdated?
        if case .location = channel {
            guard let object = data as? [String: Any], let lat = (object["lat"] as? NSNumber)?.doubleValue,
                  let lng = (object["lng"] as? NSNumber)?.doubleValue, (-90...90).contains(lat), (-180...180).contains(lng) else {
                throw ProtocolError.badRequest  // a position is {"lat": -90…90, "lng": -180…180, …}
            }
            location = DispatchEvents.LocationUpdated(providerId: caller.userID, lat: lat, lng: lng, at: Date())
        }
        do {
            try await publisher.publish(channel, data: Array(bytes), info: info)
        } catch {
            throw ProtocolError.internal
        }
        metrics.publicationsIn.increment()
        if let location {
            // The same position feeds matching (the provider-locations worker's GEO index).
            do {
                try await events.publish(try EventEnvelope(source: RealtimeBus.source, type: DispatchEvents.locationUpdated,
                                                           aggregateID: caller.userID, payload: location),
                                         to: .providerLocations)
            } catch {
                // The position reached the job's channel; matching gets the next one.
                logger.warning("location event not published: \(error)", metadata: ["provider": "\(caller.userID)"])
            }
        }
        return Frames.reply(command.id, "publish")
    }

    // MARK: presence and history (same permission as subscribing)

    private func readableChannel(_ command: Command, _ connection: ClientConnection) async throws -> RealtimeChannel {
        let channel = try channel(command)
        guard let caller = connection.caller else { throw ProtocolError.unauthorized }
        guard ChannelPolicy.maySubscribe(user: caller.userID, to: channel, job: try await jobAccess(channel)) else {
            throw ProtocolError.permissionDenied
        }
        return channel
    }

    private func presenceList(_ command: Command, _ connection: ClientConnection) async throws -> String {
        let channel = try await readableChannel(command, connection)
        let entries = try await presence.list(channel.name).map { "\(JSONText.quote($0.client)):\($0.json)" }
        return Frames.reply(command.id, "presence", #"{"presence":{\#(entries.joined(separator: ","))}}"#)
    }

    private func presenceStats(_ command: Command, _ connection: ClientConnection) async throws -> String {
        let channel = try await readableChannel(command, connection)
        let entries = try await presence.list(channel.name)
        return Frames.reply(command.id, "presence_stats", #"{"num_clients":\#(entries.count),"num_users":\#(Set(entries.map(\.user)).count)}"#)
    }

    private func historyRead(_ command: Command, _ connection: ClientConnection) async throws -> String {
        let channel = try await readableChannel(command, connection)
        let limit = min(max((command.params["limit"] as? NSNumber)?.intValue ?? 0, 0), configuration.historySize)
        var since: ChannelHistory.Position?
        if let object = command.params["since"] as? [String: Any] {
            let offset = (object["offset"] as? NSNumber)?.uint64Value ?? (object["offset"] as? String).flatMap { UInt64($0) } ?? 0
            since = ChannelHistory.Position(offset: offset, epoch: object["epoch"] as? String ?? "")
        }
        let (position, publications) = try await history.history(channel.name, limit: limit, since: since)
        return Frames.reply(command.id, "history", #"{"publications":[\#(publications.map(\.json).joined(separator: ","))],"epoch":"\#(position.epoch)","offset":\#(position.offset)}"#)
    }
}

/// The `exp` claim of a JWT, read without verifying it: used only to tell an expired token (the
/// client should refresh) from an invalid one, and for the connection's lifetime once the token
/// has been verified.
enum TokenExpiry {
    static func peek(_ token: String) -> Date? {
        let parts = token.split(separator: ".")
        guard parts.count == 3 else { return nil }
        var base64 = parts[1].replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64),
              let claims = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let exp = (claims["exp"] as? NSNumber)?.doubleValue else { return nil }
        return Date(timeIntervalSince1970: exp)
    }
}
