import Foundation
import Logging
import MarketplaceApp
import MarketplaceContracts
import MarketplaceMessaging
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
                    // Hummingbird's MetricsMiddleware exports the HTTP ones.
                    let hummingbird: Set = ["hb_requests", "hb_request_errors", "http_server_request_duration", "http_server_active_requests"]
                    for metric in metrics where !hummingbird.contains(metric) {
                        let exported = sources.contains("\"\(metric)\"")
                        #expect(exported, "\(file.lastPathComponent) queries \(metric), which nothing exports")
                    }
                }
            }
        }
    }

    /// The rendered tree's objects.
    static func rendered() async throws -> [[String: Any]] {
        let rendered = try await ChildProcess.capture(["/usr/bin/env", "kubectl", "kustomize", root.appendingPathComponent("k8s").path])
        try #require(rendered.status == 0, "kubectl kustomize k8s/ failed: \(rendered.output)")
        return try Yams.load_all(yaml: rendered.output).compactMap { $0 as? [String: Any] }
    }

    static func name(_ object: [String: Any]) -> String { (object["metadata"] as? [String: Any])?["name"] as? String ?? "?" }

    @Test("every Deployment has a disruption budget and spreads over zones; consumer workers scale on their group's lag, never past their topics' partitions; the API on CPU, the gateway on connections")
    func autoscalingAndResilience() async throws {
        let objects = try await Self.rendered()
        let deployments = objects.filter { $0["kind"] as? String == "Deployment" }
        let budgets = objects.filter { $0["kind"] as? String == "PodDisruptionBudget" }
        let autoscalers = objects.filter { $0["kind"] as? String == "HorizontalPodAutoscaler" }
        func labels(_ deployment: [String: Any]) -> [String: String] {
            (((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["metadata"] as? [String: Any])?["labels"] as? [String: String] ?? [:]
        }
        for deployment in deployments {
            let app = try #require(labels(deployment)["app"])
            #expect(budgets.contains { (($0["spec"] as? [String: Any])?["selector"] as? [String: Any])?["matchLabels"] as? [String: String] == ["app": app] },
                    "\(Self.name(deployment)) has no PodDisruptionBudget")
            let pod = try #require((((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any]))
            let spread = pod["topologySpreadConstraints"] as? [[String: Any]] ?? []
            #expect(spread.contains { $0["topologyKey"] as? String == "topology.kubernetes.io/zone" && ($0["matchLabelKeys"] as? [String]) == ["app"] },
                    "\(Self.name(deployment)) does not spread its replicas over zones")
        }

        // The workers' declarations (group and topics), from the modules as production builds them
        // (nothing prepared: no index or topic is touched).
        let configuration = TestServers.platformConfiguration(database: "deployment")
        let platform = try Platform(configuration: configuration, logger: Logger(label: "test"))
        let consumers = try await Composition(platform: platform, modules: MarketplaceApp.modules).consumerWorkers()
        await platform.close()
        var partitions: [String: Int] = [:]
        for file in try Self.files("topics", "yaml") {
            let topic = try #require(try Yams.load(yaml: String(contentsOf: file, encoding: .utf8)) as? [String: Any])
            partitions[try #require(topic["name"] as? String)] = try #require(topic["partitions"] as? Int)
        }
        func autoscaler(of deployment: String) -> [String: Any]? {
            autoscalers.first { (($0["spec"] as? [String: Any])?["scaleTargetRef"] as? [String: Any])?["name"] as? String == deployment }?["spec"] as? [String: Any]
        }
        #expect(consumers.count >= 10, "\(consumers.keys.sorted())")
        for (worker, declaration) in consumers {
            let deployment = "marketplace-\(worker)"
            let spec = try #require(autoscaler(of: deployment), "\(deployment) has no HorizontalPodAutoscaler")
            let metric = try #require((spec["metrics"] as? [[String: Any]])?.first?["external"] as? [String: Any], "\(deployment) does not scale on lag")
            let identifier = try #require(metric["metric"] as? [String: Any])
            #expect(identifier["name"] as? String == "kafka_consumer_lag")
            #expect((identifier["selector"] as? [String: Any])?["matchLabels"] as? [String: String] == ["group": TopicNames().group(declaration.group)],
                    "\(deployment) must select its own group's lag (\(declaration.group))")
            let fewest = try declaration.topics.map { topic in try #require(partitions[topic.rawValue], "\(topic.rawValue) has no topics/*.yaml") }.min() ?? 0
            let maxReplicas = try #require(spec["maxReplicas"] as? Int)
            #expect(maxReplicas <= fewest && maxReplicas >= (spec["minReplicas"] as? Int ?? 1),
                    "\(deployment): maxReplicas \(maxReplicas), but \(declaration.topics.map(\.rawValue)) has only \(fewest) partitions in its smallest topic")
        }
        let api = try #require(autoscaler(of: "marketplace-api"))
        #expect(((api["metrics"] as? [[String: Any]])?.first?["resource"] as? [String: Any])?["name"] as? String == "cpu")
        let gateway = try #require(autoscaler(of: "marketplace-realtime-gateway"))
        #expect((((gateway["metrics"] as? [[String: Any]])?.first?["pods"] as? [String: Any])?["metric"] as? [String: Any])?["name"] as? String == "realtime_connections")
        // The adapter serves both metrics the autoscalers read.
        let adapter = try String(contentsOf: Self.root.appendingPathComponent("monitoring/prometheus-adapter.yaml"), encoding: .utf8)
        #expect(adapter.contains("as: \"kafka_consumer_lag\"") && adapter.contains("as: \"realtime_connections\""))
    }

    @Test("the ingress: REST on one host with the admin paths restricted and the webhook open, the gateway with long timeouts and no buffering, TLS from a Secret; network policies deny by default")
    func ingressAndNetworkPolicies() async throws {
        let objects = try await Self.rendered()
        let ingresses = Dictionary(uniqueKeysWithValues: objects.filter { $0["kind"] as? String == "Ingress" }.map { (Self.name($0), $0) })
        func annotations(_ name: String) -> [String: String] { (ingresses[name]?["metadata"] as? [String: Any])?["annotations"] as? [String: String] ?? [:] }
        func paths(_ name: String) -> [String] {
            (((ingresses[name]?["spec"] as? [String: Any])?["rules"] as? [[String: Any]]) ?? []).flatMap { (($0["http"] as? [String: Any])?["paths"] as? [[String: Any]] ?? []).compactMap { $0["path"] as? String } }
        }
        #expect(paths("marketplace-api").contains("/v1") && !paths("marketplace-api").contains("/"), "/metrics and /health stay inside")
        #expect(paths("marketplace-admin") == ["/v1/admin"] && annotations("marketplace-admin")["nginx.ingress.kubernetes.io/whitelist-source-range"] != nil)
        #expect(paths("marketplace-webhooks") == ["/v1/payments/webhooks"] && annotations("marketplace-webhooks")["nginx.ingress.kubernetes.io/limit-rps"] == nil)
        let realtime = annotations("marketplace-realtime")
        #expect(Int(realtime["nginx.ingress.kubernetes.io/proxy-read-timeout"] ?? "") ?? 0 >= 3600 && realtime["nginx.ingress.kubernetes.io/proxy-buffering"] == "off")
        for (name, ingress) in ingresses {
            let tls = ((ingress["spec"] as? [String: Any])?["tls"] as? [[String: Any]])?.first
            #expect(tls?["secretName"] as? String == "marketplace-tls", "\(name) without TLS")
        }
        let policies = objects.filter { $0["kind"] as? String == "NetworkPolicy" }
        let deny = try #require(policies.first { Self.name($0) == "marketplace-default-deny" })
        #expect(((deny["spec"] as? [String: Any])?["podSelector"] as? [String: Any])?.isEmpty == true)
        #expect(policies.count >= 5)
        // Deployments need their Secret (production refuses to start without its keys).
        let secretRefs = objects.filter { $0["kind"] as? String == "Deployment" }.flatMap { deployment -> [[String: Any]] in
            let containers = (((deployment["spec"] as? [String: Any])?["template"] as? [String: Any])?["spec"] as? [String: Any])?["containers"] as? [[String: Any]] ?? []
            return containers.flatMap { ($0["envFrom"] as? [[String: Any]] ?? []).compactMap { $0["secretRef"] as? [String: Any] } }
        }
        #expect(!secretRefs.isEmpty && secretRefs.allSatisfy { $0["name"] as? String == "marketplace-secrets" && $0["optional"] as? Bool != true })
    }

    @Test("promtool checks the alert rules and their unit tests pass")
    func alertRules() async throws {
        let rules = Self.root.appendingPathComponent("monitoring/prometheus-rules.yaml").path
        let check = try await ChildProcess.capture(["/usr/bin/env", "promtool", "check", "rules", rules])
        #expect(check.status == 0, "promtool check rules: \(check.output)")
        let tests = try await ChildProcess.capture(["/usr/bin/env", "promtool", "test", "rules", Self.root.appendingPathComponent("monitoring/prometheus-rules.test.yaml").path])
        #expect(tests.status == 0, "promtool test rules: \(tests.output)")
        let testText = try String(contentsOf: Self.root.appendingPathComponent("monitoring/prometheus-rules.test.yaml"), encoding: .utf8)
        for alert in ["KafkaConsumerLagHigh", "KafkaDeadLetters", "PaymentWebhookSignatureFailures", "PaymentsFailed", "RealtimeSlowConsumers", "MarketplaceNotReady"] {
            #expect(testText.contains("alertname: \(alert)"), "no unit test for \(alert)")
        }
    }

    @Test("the Dockerfile: the runtime stage installs the libraries ldd names for the binary, copies librdkafka, the resources and topics; every file it copies exists; it runs as 10001")
    func imageRecipe() async throws {
        let dockerfile = try String(contentsOf: Self.root.appendingPathComponent("Dockerfile"), encoding: .utf8)
        let stages = dockerfile.components(separatedBy: "\nFROM ")
        let runtime = try #require(stages.last { $0.contains("AS runtime") }, "no runtime stage")
        // The packages of the runtime's apt-get install (continued lines joined).
        let install = try #require(runtime.replacingOccurrences(of: "\\\n", with: " ").split(separator: "\n").first { $0.contains("apt-get install") })
        let packages = Set(install.split(separator: " ").map(String.init).filter { !$0.hasPrefix("-") && $0.range(of: "^[a-z0-9][a-z0-9.+-]+$", options: .regularExpression) != nil })
            .subtracting(["apt-get", "install", "rm", "update"])
        // The binary's direct dependencies (its NEEDED entries), resolved by ldd, owned by which Debian package.
        let binary = Self.root.appendingPathComponent(".build/debug/marketplace").path
        let needed = try await ChildProcess.capture(["/usr/bin/env", "sh", "-c", "readelf -d '\(binary)' | sed -n 's/.*Shared library: \\[\\(.*\\)\\]/\\1/p'"])
        let ldd = try await ChildProcess.capture(["/usr/bin/env", "ldd", binary])
        var resolved: [String: String] = [:]
        for line in ldd.output.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count >= 3, parts[1] == "=>" { resolved[String(parts[0]).trimmingCharacters(in: .whitespaces)] = String(parts[2]) }
        }
        let libraries = needed.output.split(separator: "\n").map(String.init)
        #expect(libraries.contains("libmongoc-1.0.so.0") && libraries.contains("librdkafka.so.1"), "\(libraries)")
        for library in libraries where !library.hasPrefix("ld-linux") {  // the loader: libc6's
            let path = try #require(resolved[library], "ldd does not resolve \(library)")
            // The Swift runtime is linked statically into the image's binary (--static-swift-stdlib).
            if path.contains("/swift/") || library.hasPrefix("libswift") || library.hasPrefix("libFoundation") || library.hasPrefix("lib_Foundation")
                || library == "libdispatch.so" || library == "libBlocksRuntime.so" { continue }
            if library == "librdkafka.so.1" {
                #expect(runtime.contains("COPY --from=build /rdkafka/") && dockerfile.contains("ln -s") && runtime.contains("LD_LIBRARY_PATH"),
                        "librdkafka >= 2.2 must be copied into the runtime")
                continue
            }
            // dpkg knows a file by the path its package installed (/lib or /usr/lib: usrmerge).
            let owner = try await ChildProcess.capture(["/bin/sh", "-c", "dpkg -S '\(path)' 2>/dev/null || dpkg -S '/usr\(path)' 2>/dev/null || dpkg -S \"$(readlink -f '\(path)')\""])
            let package = String(owner.output.split(separator: ":").first ?? "")
            #expect(owner.status == 0 && packages.contains(package), "\(library) (\(path)) comes from \(package), which the runtime stage does not install: \(packages.sorted())")
        }
        // Every COPY from the build context names something that exists; the image runs unprivileged.
        for line in dockerfile.split(separator: "\n") where line.hasPrefix("COPY ") && !line.contains("--from=") {
            let sources = line.split(separator: " ").dropFirst().dropLast()
            for source in sources {
                #expect(FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(String(source)).path), "COPY \(source): no such file")
            }
        }
        #expect(runtime.contains("USER 10001") && runtime.contains("useradd --uid 10001"))
        #expect(runtime.contains("COPY topics /app/topics") && dockerfile.contains("*.resources"), "topics/ and the dashboard's and templates' resource bundles")
        let ignore = try String(contentsOf: Self.root.appendingPathComponent(".dockerignore"), encoding: .utf8).split(separator: "\n").map(String.init)
        #expect(!ignore.contains("Sources") && !ignore.contains("topics") && ignore.contains(".build") && ignore.contains(".stack"))
    }
}
