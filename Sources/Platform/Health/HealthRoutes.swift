import Foundation
import Hummingbird
import Metrics
import Prometheus
import Synchronization

/// A dependency that must answer for the process to be ready. A check that is not `critical`
/// is reported in `/health/ready` without making the process unready: an outside service that
/// is down (the payment service's open circuit) should not take every API pod out of the load
/// balancer, since everything else still works.
public struct ReadinessCheck: Sendable {
    public var name: String
    public var critical: Bool
    public var check: @Sendable () async throws -> Void

    public init(name: String, critical: Bool = true, check: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.critical = critical
        self.check = check
    }
}

struct ReadinessReport: ResponseEncodable {
    var status: String
    var checks: [String: String]
}

public enum HealthRoutes {
    /// `/health/live` (the process runs), `/health/ready` (every dependency answered within the
    /// timeout), `/metrics` (Prometheus text format).
    public static func register<Context: RequestContext>(on router: Router<Context>, checks: [ReadinessCheck],
                                                         registry: PrometheusCollectorRegistry, timeout: Duration = .seconds(1)) {
        router.get("/health/live") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: #"{"status":"live"}"#)))
        }
        router.get("/health/ready") { _, _ -> Response in
            let results = await runChecks(checks, timeout: timeout)
            let ready = checks.filter(\.critical).allSatisfy { results[$0.name] == "ok" }
            let report = ReadinessReport(status: ready ? "ready" : "unavailable", checks: results)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(report))))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }

    static func runChecks(_ checks: [ReadinessCheck], timeout: Duration) async -> [String: String] {
        await withTaskGroup(of: (String, String).self) { group in
            for check in checks {
                group.addTask { (check.name, await outcome(of: check, within: timeout)) }
            }
            var results: [String: String] = [:]
            for await (name, result) in group { results[name] = result }
            return results
        }
    }

    /// The check's answer, or "timed out" once `timeout` has passed - whichever comes first. The
    /// check runs in its own task that is cancelled but not awaited: a check blocked in a C call
    /// (a MongoDB ping waiting for server selection while the database is down) does not notice
    /// cancellation, and a structured race would wait for it and answer the probe late.
    static func outcome(of check: ReadinessCheck, within timeout: Duration) async -> String {
        let answer = FirstAnswer()
        return await withCheckedContinuation { continuation in
            answer.expect(continuation)
            let work = Task {
                let result: String
                do { try await check.check(); result = "ok" } catch { result = "\(error)" }
                answer.give(result)
            }
            Task {
                try? await Task.sleep(for: timeout)
                if answer.give("timed out after \(timeout)") { work.cancel() }
            }
        }
    }
}

/// The first of several answers, handed to one waiting continuation; later ones are dropped.
private final class FirstAnswer: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<String, Never>?, answered: Bool)>((nil, false))

    func expect(_ continuation: CheckedContinuation<String, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    /// Resumes the waiter with `answer` unless an earlier answer did; true when this one won.
    @discardableResult
    func give(_ answer: String) -> Bool {
        let waiter: CheckedContinuation<String, Never>? = state.withLock { state in
            guard !state.answered else { return nil }
            state.answered = true
            return state.continuation
        }
        waiter?.resume(returning: answer)
        return waiter != nil
    }
}
