import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A private localstripe on a free port, which a test can freeze (SIGSTOP: connections are
/// accepted by the kernel and never answered, as a hung payment service) and thaw (SIGCONT,
/// its state intact), or stop.
final class LocalstripeProcess: @unchecked Sendable {
    let port: Int
    private let process: ChildProcess

    var url: String { "http://127.0.0.1:\(port)" }

    /// Started on a free port; another is tried when that one was taken meanwhile (the process
    /// then exits without ever answering).
    init() async throws {
        let python = DeploymentFilesTests.root.appendingPathComponent(".stack/venv/bin/python").path
        for _ in 0..<3 {
            let port = SMTPSink.freePort()
            let process = try ChildProcess([python, "-c", "from aiohttp import web; import localstripe.server as s; web.run_app(s.app, host='127.0.0.1', port=\(port), print=None)"])
            if try await eventually(timeout: .seconds(20), { SMTPSink.isOpen(port) }) {
                self.port = port
                self.process = process
                return
            }
            await process.signal(SIGKILL)
        }
        throw CocoaError(.fileReadUnknown)
    }

    func freeze() { kill(process.pid, SIGSTOP) }
    func thaw() { kill(process.pid, SIGCONT) }

    func stop() async {
        thaw()
        await process.signal(SIGKILL)
    }
}
