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

    /// The executable's subcommands at `path` (`[]`: the root), from its own help.
    static func subcommands(_ path: [String]) async throws -> Set<String> {
        let binary = root.appendingPathComponent(".build/debug/marketplace").path
        let help = try await ChildProcess.capture([binary] + path + ["--help"])
        #expect(help.status == 0, "marketplace \(path.joined(separator: " ")) --help: \(help.output)")
        guard let section = help.output.components(separatedBy: "SUBCOMMANDS:").dropFirst().first else { return [] }
        return Set(section.split(separator: "\n").compactMap { line in
            line.hasPrefix("  ") && !line.hasPrefix("   ") ? line.split(separator: " ").first.map(String.init) : nil
        })
    }

    @Test("kubectl kustomize k8s/ renders a valid deployment: every worker of every module has a Deployment with probes, each runs a real subcommand")
    func kubernetesManifests() async throws {
        let rendered = try await ChildProcess.capture(["/usr/bin/env", "kubectl", "kustomize", Self.root.appendingPathComponent("k8s").path])
        try #require(rendered.status == 0, "kubectl kustomize k8s/ failed: \(rendered.output)")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("k8s-\(UUID()).yaml").path
        try rendered.output.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let validator = Self.root.appendingPathComponent(".stack/venv/bin/kubernetes-validate").path
        let validation = try await ChildProcess.capture([validator, "--strict", "--quiet", path])
        #expect(validation.status == 0, "kubernetes-validate: \(validation.output)")

        let root = try await Self.subcommands([])
        var commands: [[String]] = []
        var workerArgs: [String] = []
        for document in try Yams.load_all(yaml: rendered.output) {
            let object = try #require(document as? [String: Any])
            let kind = object["kind"] as? String
            guard kind == "Deployment" || kind == "Job", let spec = object["spec"] as? [String: Any],
                  let template = spec["template"] as? [String: Any], let podSpec = template["spec"] as? [String: Any],
                  let containers = podSpec["containers"] as? [[String: Any]] else { continue }
            for container in containers {
                let args = try #require(container["args"] as? [String], "\(object["metadata"] ?? "?") has no args")
                commands.append(args)
                if kind == "Deployment" {
                    #expect(container["livenessProbe"] != nil && container["readinessProbe"] != nil, "\(args) needs probes")
                }
                if args.first == "worker" { workerArgs.append(args[1]) }
            }
        }
        // Each Deployment's and Job's args name a real subcommand (and a real worker).
        for args in commands {
            let command = try #require(args.first)
            #expect(root.contains(command), "\(args): no subcommand \(command)")
            let nested = try await Self.subcommands([command])
            if !nested.isEmpty, args.count > 1 { #expect(nested.contains(args[1]), "\(args): no subcommand \(command) \(args[1])") }
        }
        let workers = MarketplaceApp.workers.map(\.name)
        #expect(workerArgs.sorted() == workers.sorted(), "one Deployment per worker of every module")
        #expect(commands.contains(["serve"]), "the API has a Deployment")
    }

    @Test("the Prometheus rules and the Grafana dashboard parse and use metrics the platform exports")
    func monitoring() throws {
        let rules = try #require(try Yams.load(yaml: String(contentsOf: Self.root.appendingPathComponent("monitoring/prometheus-rules.yaml"), encoding: .utf8)) as? [String: Any])
        let groups = try #require(rules["groups"] as? [[String: Any]])
        let expressions = groups.flatMap { ($0["rules"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(!expressions.isEmpty)
        for metric in ["kafka_consumer_lag", "outbox_relay_failures_total", "kafka_queue_messages", "realtime_slow_consumer_disconnects_total", "realtime_delivery_delay_seconds",
                       "payments_failed_total", "payment_webhooks_total", "stripe_circuit_state"] {
            #expect(expressions.contains { $0.contains(metric) }, "no rule on \(metric)")
        }
        // Every dashboard parses and each panel's query names a metric the code exports
        // (Hummingbird's own request metrics aside).
        let enumerator = FileManager.default.enumerator(at: Self.root.appendingPathComponent("Sources"), includingPropertiesForKeys: nil)
        let sources = try (enumerator?.allObjects as? [URL] ?? []).filter { $0.pathExtension == "swift" }
            .map { try String(contentsOf: $0, encoding: .utf8) }.joined()
        let dashboards = try Self.files("monitoring/grafana", "json")
        #expect(dashboards.count >= 2)
        for file in dashboards {
            let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any])
            let panels = try #require(dashboard["panels"] as? [[String: Any]], "\(file.lastPathComponent)")
            for panel in panels {
                for target in panel["targets"] as? [[String: Any]] ?? [] {
                    // Metric names: before a selector or a range, or alone inside an aggregation (labels in `by (...)` aside).
                    let expression = (target["expr"] as? String ?? "").replacing(/by \([^)]*\)/, with: "")
                    let metrics = (expression.matches(of: /([a-z][a-z0-9_]*)\s*[\[{]/).map { String($0.1) }
                                   + expression.matches(of: /\(([a-z][a-z0-9_]*_[a-z0-9_]+)\)/).map { String($0.1) })
                        .map { $0.replacing(/_(bucket|count|sum)$/, with: "") }
                    #expect(!metrics.isEmpty, "\(file.lastPathComponent): \(expression)")
                    for metric in metrics where metric != "hb_requests" {
                        let exported = sources.contains("\"\(metric)\"")
                        #expect(exported, "\(file.lastPathComponent) queries \(metric), which nothing exports")
                    }
                }
            }
        }
    }
}
