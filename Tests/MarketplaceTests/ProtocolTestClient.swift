import Foundation
import HummingbirdWSClient
import Logging
import NIOWebSocket
import Synchronization

/// A bare Centrifugo-protocol client for protocol-level tests: sends commands as JSON, reads
/// replies and pushes line by line, answers pings when asked to, and records the close code.
final class ProtocolTestClient: Sendable {
    /// Replies and pushes received, and how the connection ended (JSON objects are not Sendable:
    /// a lock guards them).
    final class Received: @unchecked Sendable {
        private let lock = NSLock()
        private var messages: [[String: Any]] = []
        private var closedState: (done: Bool, code: Int?) = (false, nil)

        func withLock<R>(_ body: (inout [[String: Any]]) -> R) -> R { lock.lock(); defer { lock.unlock() }; return body(&messages) }
        func close(code: Int?) { lock.lock(); closedState = (true, code); lock.unlock() }
        var closed: (done: Bool, code: Int?) { lock.lock(); defer { lock.unlock() }; return closedState }
    }

    private let outgoing: AsyncStream<String>.Continuation
    private let incoming = Received()
    private let nextID = Mutex(0)
    private let task: Task<Void, Never>

    init(port: Int, answerPings: Bool = true) {
        let (stream, continuation) = AsyncStream<String>.makeStream()
        outgoing = continuation
        let incoming = self.incoming
        task = Task {
            var code: Int?
            do {
                let frame = try await WebSocketClient.connect(
                    url: "ws://127.0.0.1:\(port)/connection/websocket", configuration: .init(maxFrameSize: 1 << 20),
                    logger: Logger(label: "test.ws")) { inbound, outbound, _ in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await text in stream { try await outbound.write(.text(text)) }
                        }
                        for try await message in inbound.messages(maxSize: 1 << 22) {
                            guard case .text(let text) = message else { continue }
                            for line in text.split(separator: "\n") {
                                let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any] ?? ["unparsed": String(line)]
                                if object.isEmpty && answerPings { try await outbound.write(.text("{}")) }
                                incoming.withLock { $0.append(object) }
                            }
                        }
                        group.cancelAll()
                    }
                }
                if let frame { code = Int(UInt16(webSocketErrorCode: frame.closeCode)) }
            } catch {}
            incoming.close(code: code)
        }
    }

    func sendRaw(_ text: String) { outgoing.yield(text) }

    /// Sends `{"id": N, method: params}` and waits for the reply with that id.
    @discardableResult
    func command(_ method: String, _ params: [String: Any] = [:], timeout: Duration = .seconds(30)) async throws -> [String: Any] {
        let id = nextID.withLock { $0 += 1; return $0 }
        let data = try JSONSerialization.data(withJSONObject: ["id": id, method: params])
        sendRaw(String(decoding: data, as: UTF8.self))
        return try await waitFor(timeout: timeout) { ($0["id"] as? Int) == id }
    }

    /// The first message (reply or push) matching, removed from the buffer.
    func waitFor(timeout: Duration = .seconds(30), _ match: @Sendable ([String: Any]) -> Bool) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let found: [String: Any]? = incoming.withLock { messages in
                guard let index = messages.firstIndex(where: match) else { return nil }
                return messages.remove(at: index)
            }
            if let found { return found }
            if incoming.closed.done { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TimedOut(description: "no matching message; buffered: \(incoming.withLock { $0 }); closed: \(incoming.closed)")
    }

    /// Pushes of one kind ("pub", "join", "unsubscribe", ...) on a channel, in arrival order.
    func pushes(_ kind: String, channel: String) -> [[String: Any]] {
        incoming.withLock { messages in
            messages.compactMap { ($0["push"] as? [String: Any]).flatMap { $0["channel"] as? String == channel ? $0[kind] as? [String: Any] : nil } }
        }
    }

    func push(_ kind: String, channel: String, timeout: Duration = .seconds(10)) async throws -> [String: Any] {
        let message = try await waitFor(timeout: timeout) { message in
            guard let push = message["push"] as? [String: Any] else { return false }
            return push["channel"] as? String == channel && push[kind] != nil
        }
        return (message["push"] as! [String: Any])[kind] as! [String: Any]
    }

    /// The WebSocket close code once the server closed the connection.
    func closeCode(timeout: Duration = .seconds(10)) async throws -> Int? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let state = incoming.closed
            if state.done { return state.code }
            try await Task.sleep(for: .milliseconds(10))
        }
        throw TimedOut(description: "still open")
    }

    func close() async {
        outgoing.finish()
        task.cancel()
        _ = await task.value
    }

    struct TimedOut: Error, CustomStringConvertible { var description: String }
}

extension Dictionary where Key == String, Value == Any {
    func object(_ key: String) -> [String: Any]? { self[key] as? [String: Any] }
}
