import Foundation

/// libFuzzer target: one WebSocket text message as the gateway handles it before any I/O — split
/// into lines, each parsed as a Centrifugo command, its parameters read the way the handlers read
/// them, its channel name parsed, and the reply and error frames built. Besides not crashing, two
/// properties must hold for every input: a parsed channel's name parses back to the same channel,
/// and every frame the gateway would send is valid JSON that quotes the input's text intact.
/// Built and run by scripts/fuzz-targets.sh (swiftc -sanitize=fuzzer,address).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCommandParser(_ bytes: UnsafePointer<UInt8>, _ count: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: bytes, count: count), as: UTF8.self)
    for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
        guard let command = Command.parse(line) else { continue }
        _ = command.isPong
        for key in ["token", "channel", "epoch", "data", "offset", "limit", "recover", "since"] {
            _ = command.string(key)
            _ = command.bool(key)
            _ = command.uint64(key)
        }
        if let name = command.string("channel") {
            if let channel = RealtimeChannel(name) {
                precondition(RealtimeChannel(channel.name) == channel, "channel name does not round-trip: \(name)")
                _ = channel.jobID
                _ = channel.conflated
                _ = channel.tracksPresence
            }
            let quoted = JSONText.quote(name)
            let decoded = try? JSONSerialization.jsonObject(with: Data(quoted.utf8), options: [.fragmentsAllowed]) as? String
            precondition(decoded == name, "JSONText.quote is not valid JSON for \(name.debugDescription)")
        }
        let frames = [Frames.reply(command.id, command.method?.rawValue ?? "connect"),
                      Frames.error(command.id, .badRequest), Frames.disconnect(.badRequest)]
        for frame in frames {
            precondition((try? JSONSerialization.jsonObject(with: Data(frame.utf8))) != nil, "frame is not JSON: \(frame)")
        }
    }
    return 0
}
