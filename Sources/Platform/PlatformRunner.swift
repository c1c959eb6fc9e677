import Foundation
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// Runs a process: the platform's connections, the modules built once, the HTTP server (health,
/// metrics and, in `serve`/`dev`, the API), and the chosen workers, under one ServiceGroup with
/// graceful shutdown.
public enum PlatformRunner {
    /// Metrics can be bootstrapped once per process.
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return registry
    }()

    public static func makeLogger(_ configuration: PlatformConfiguration) -> Logger {
        var logger = Logger(label: "marketplace")
        logger.logLevel = configuration.logLevel
        return logger
    }

    /// Runs until SIGTERM/SIGINT, then stops the workers (finishing in-flight work), the HTTP
    /// server, and finally flushes and closes the connections.
    public static func run(configuration: PlatformConfiguration, modules: [any ServiceModule.Type], workers: [String], api: Bool) async throws {
        _ = registry
        let logger = makeLogger(configuration)
        let platform = try Platform(configuration: configuration, logger: logger)
        let composition: Composition
        do {
            composition = try await Composition(platform: platform, modules: modules)
            try await composition.prepare(forWorkers: api ? nil : workers)
        } catch {
            await platform.close()
            throw error
        }
        let app = Application(
            router: try composition.makeRouter(api: api),
            configuration: .init(address: .hostname(configuration.httpHost, port: configuration.httpPort), serverName: "marketplace"),
            logger: logger)
        let services: [any Service] = [PlatformLifetime(platform: platform)] + (try composition.workerServices(workers)) + [app]
        let group = ServiceGroup(configuration: .init(
            services: services.map { .init(service: $0) },
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        logger.info("marketplace starting", metadata: [
            "modules": "\(modules.map { $0.name })", "workers": "\(workers)", "http": "\(configuration.httpHost):\(configuration.httpPort)"])
        try await group.run()
    }
}
