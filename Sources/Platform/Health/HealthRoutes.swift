import Foundation
import Hummingbird
import Metrics
import Prometheus

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
                                                         registry: PrometheusCollectorRegistry, timeout: Duration = .seconds(2)) {
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
                group.addTask {
                    await withTaskGroup(of: String?.self) { race in
                        race.addTask {
                            do { try await check.check(); return "ok" } catch { return "\(error)" }
                        }
                        race.addTask {
                            try? await Task.sleep(for: timeout)
                            return Task.isCancelled ? nil : "timed out after \(timeout)"
                        }
                        let first = await race.next()!
                        race.cancelAll()
                        return (check.name, first ?? "cancelled")
                    }
                }
            }
            var results: [String: String] = [:]
            for await (name, result) in group { results[name] = result }
            return results
        }
    }
}
