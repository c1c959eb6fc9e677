import Foundation
import MarketplaceApp
import MarketplacePlatform
import Testing
import Yams

@Suite("Deployment files")
struct DeploymentFilesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static func files(_ folder: String, _ ext: String) throws -> [URL] {
        try FileManager.default.contentsOfDirectory(at: root.appendingPathComponent(folder), includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == ext }
    }

    @Test("every Kubernetes manifest parses and names its kind; every worker has a Deployment with probes")
    func kubernetesManifests() throws {
        var workerArgs: Set<String> = []
        for file in try Self.files("k8s", "yaml") {
            for document in try Yams.load_all(yaml: String(contentsOf: file, encoding: .utf8)) {
                let object = try #require(document as? [String: Any], "\(file.lastPathComponent)")
                #expect(object["apiVersion"] is String && object["kind"] is String, "\(file.lastPathComponent)")
                guard object["kind"] as? String == "Deployment",
                      let spec = object["spec"] as? [String: Any], let template = spec["template"] as? [String: Any],
                      let podSpec = template["spec"] as? [String: Any], let containers = podSpec["containers"] as? [[String: Any]] else { continue }
                for container in containers {
                    #expect(container["livenessProbe"] != nil && container["readinessProbe"] != nil, "\(file.lastPathComponent) needs probes")
                    if let args = container["args"] as? [String], args.first == "worker" { workerArgs.insert(args[1]) }
                }
            }
        }
        #expect(workerArgs == Set(MarketplaceApp.workers.map(\.name)), "every worker has a Deployment")
    }

    @Test("the Prometheus rules and the Grafana dashboard parse and use metrics the platform exports")
    func monitoring() throws {
        let rules = try #require(try Yams.load(yaml: String(contentsOf: Self.root.appendingPathComponent("monitoring/prometheus-rules.yaml"), encoding: .utf8)) as? [String: Any])
        let groups = try #require(rules["groups"] as? [[String: Any]])
        let expressions = groups.flatMap { ($0["rules"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(!expressions.isEmpty)
        for metric in ["kafka_consumer_lag", "outbox_relay_failures_total", "kafka_queue_messages", "realtime_slow_consumer_disconnects_total", "realtime_delivery_delay_seconds"] {
            #expect(expressions.contains { $0.contains(metric) }, "no rule on \(metric)")
        }
        let dashboard = try JSONSerialization.jsonObject(with: Data(contentsOf: Self.root.appendingPathComponent("monitoring/grafana/marketplace-platform.json")))
        #expect((dashboard as? [String: Any])?["panels"] is [Any])
    }
}
