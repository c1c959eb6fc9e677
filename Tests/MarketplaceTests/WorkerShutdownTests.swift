import Foundation
import Testing

@Suite("Worker processes: graceful stop", .timeLimit(.minutes(2)))
struct WorkerShutdownTests {
    @Test("`marketplace dev` (every worker, the gateway among them) stops on SIGTERM with exit status 0")
    func gatewayStopsCleanly() async throws {
        // Before: the gateway's own HTTP server caught SIGTERM too and stopped ahead of the
        // process's service group, which then failed with "RealtimeGateway finished unexpectedly"
        // and exit status 1 (what Kubernetes records as a failed container on every rollout).
        // It shows with many services (the workers before the gateway take their time to stop).
        let prefix = "stop\(UInt32.random(in: 0...UInt32.max))."
        var environment = ProcessInfo.processInfo.environment
        environment["KAFKA_BROKERS"] = TestServers.kafkaBrokers
        environment["KAFKA_TOPIC_PREFIX"] = prefix
        environment["MONGO_URI"] = TestServers.mongoURI
        environment["MONGO_DATABASE"] = "stop_test"
        environment["REDIS_HOST"] = TestServers.redisHost
        environment["REDIS_PORT"] = String(TestServers.redisPort)
        let port = Int.random(in: 20_000...29_000)
        environment["HTTP_PORT"] = String(port)
        environment["REALTIME_PORT"] = String(port + 1)
        environment["LOG_LEVEL"] = "warning"
        let gateway = try ChildProcess([DeploymentFilesTests.root.appendingPathComponent(".build/debug/marketplace").path, "dev", "--topics", DeploymentFilesTests.root.appendingPathComponent("topics").path],
                                       environment: environment)
        var ready = false
        for _ in 0..<60 where !ready {
            try await Task.sleep(for: .seconds(1))
            ready = try await ChildProcess.capture(["/usr/bin/curl", "-fs", "http://127.0.0.1:\(port)/health/ready"]).status == 0
        }
        #expect(ready, "the platform is ready")
        try await Task.sleep(for: .seconds(3))  // every worker's consumer has joined
        kill(gateway.pid, SIGTERM)
        #expect(await gateway.exitStatus() == 0)
    }
}
