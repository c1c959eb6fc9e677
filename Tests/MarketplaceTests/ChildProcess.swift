import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process of the test run. Spawned with posix_spawn (Foundation's Process hung when
/// spawning from tests); waiting happens on a thread of its own, never on the cooperative pool.
final class ChildProcess: Sendable {
    let pid: pid_t

    init(_ argv: [String], environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        var cArguments: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        var cEnvironment: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArguments + cEnvironment).forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], nil, nil, &cArguments, &cEnvironment) == 0 else { throw CocoaError(.executableNotLoadable) }
        self.pid = pid
    }

    /// Waits for the process to end; its exit status, or 128 + the signal that ended it (as a
    /// shell reports it: a process killed by SIGTERM is not a clean exit 0).
    func exitStatus() async -> Int32 {
        let pid = self.pid
        return await withCheckedContinuation { continuation in
            Thread {
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                let signal = status & 0x7f
                continuation.resume(returning: signal == 0 ? (status >> 8) & 0xff : 128 + signal)
            }.start()
        }
    }

    func signal(_ number: Int32) async {
        kill(pid, number)
        _ = await exitStatus()
    }

    /// `.stack/venv/bin/python` with `arguments` (a file, or `-c` and a script); its exit status.
    static func python(_ arguments: String...) async throws -> Int32 {
        let python = DeploymentFilesTests.root.appendingPathComponent(".stack/venv/bin/python").path
        return try await ChildProcess([python] + arguments).exitStatus()
    }

    /// Runs `argv` to its end with standard output and error in a file: the status and what it printed.
    static func capture(_ argv: [String]) async throws -> (status: Int32, output: String) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID()).out").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        func quote(_ word: String) -> String { "'" + word.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let status = try await ChildProcess(["/bin/sh", "-c", argv.map(quote).joined(separator: " ") + " >\(quote(path)) 2>&1"]).exitStatus()
        return (status, (try? String(contentsOfFile: path, encoding: .utf8)) ?? "")
    }
}
