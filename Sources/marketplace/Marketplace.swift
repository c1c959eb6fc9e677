import ArgumentParser
import Foundation
import MarketplaceAnalytics
import MarketplaceApp
import MarketplaceContracts
import MarketplaceIdentity
import MarketplacePayments
import MarketplacePlatform

@main
struct Marketplace: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "marketplace",
        abstract: "The Marketplace platform: API, workers and topics in one executable (benchmarks: marketplace-bench).",
        subcommands: [Serve.self, Worker.self, Dev.self, Topics.self, Users.self, Payments.self, Analytics.self])
}

/// Loads the configuration or exits with a message that names the bad key.
func loadConfiguration() async throws -> PlatformConfiguration {
    do {
        return try await PlatformConfiguration.load()
    } catch let error as ConfigurationError {
        throw ValidationError(error.description)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the HTTP API (and the outbox relay).")
    func run() async throws {
        try await PlatformRunner.run(configuration: try await loadConfiguration(), modules: MarketplaceApp.modules,
                                     workers: [Composition.outboxRelay], api: true)
    }
}

struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run one worker (with health and metrics endpoints).",
        discussion: "Workers:\n" + MarketplaceApp.workers.map { "  \($0.name): \($0.summary)" }.joined(separator: "\n"))

    @Argument(help: "Worker name.") var name: String

    func validate() throws {
        guard MarketplaceApp.workers.contains(where: { $0.name == name }) else {
            throw ValidationError("unknown worker '\(name)'; known: \(MarketplaceApp.workers.map(\.name).joined(separator: ", "))")
        }
    }

    func run() async throws {
        try await PlatformRunner.run(configuration: try await loadConfiguration(), modules: MarketplaceApp.modules, workers: [name], api: false)
    }
}

struct Dev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run every service and worker in one process (local use).")
    @Option(help: "Topic definitions to apply before starting.") var topics = "topics"

    func run() async throws {
        let configuration = try await loadConfiguration()
        try await applyTopics(directory: topics, configuration: configuration)
        try await PlatformRunner.run(configuration: configuration, modules: MarketplaceApp.modules,
                                     workers: MarketplaceApp.workers.map(\.name), api: true)
    }
}

struct Topics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Topics as code.", subcommands: [Apply.self, List.self])

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make the broker match topics/*.yaml (idempotent).")
        @Option(help: "Folder of topic definitions.") var directory = "topics"
        func run() async throws {
            try await applyTopics(directory: directory, configuration: try await loadConfiguration())
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the broker's topics.")
        func run() async throws {
            let configuration = try await loadConfiguration()
            for topic in try await KafkaTools.listTopics(configuration) { print("\(topic.name)\t\(topic.partitions)") }
        }
    }
}

func applyTopics(directory: String, configuration: PlatformConfiguration) async throws {
    let catalog = try TopicCatalog.load(directory: directory)
    let changes = try await KafkaTools.apply(catalog, configuration: configuration)
    for change in changes { print(change) }
    let created = changes.filter { if case .created = $0 { true } else { false } }.count
    print("topics: \(catalog.topics.count) declared, \(created) created, \(changes.count - created) already present")
    fflush(nil)  // flush stdout before a long-running `dev` takes over the process
}

struct Users: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "User administration.", subcommands: [CreateAdmin.self])

    struct CreateAdmin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-admin",
            abstract: "Create an administrator (nobody can register as one).",
            discussion: "The password is read from MARKETPLACE_ADMIN_PASSWORD, or else from the first line of standard input.")
        @Option var email: String
        @Option var name = "Administrator"

        func run() async throws {
            let password = ProcessInfo.processInfo.environment["MARKETPLACE_ADMIN_PASSWORD"] ?? readLine(strippingNewline: true) ?? ""
            let configuration = try await loadConfiguration()
            let platform = try Platform(configuration: configuration, logger: PlatformRunner.makeLogger(configuration))
            // The module's own settings: the signing key it may create is sealed like the server's.
            let settings = try IdentityService.Configuration(section: ConfigurationSection(reader: configuration.reader, name: IdentityModule.name))
            let identity = IdentityService(mongo: platform.mongo, redis: platform.redis, configuration: settings)
            do {
                try await identity.prepare()
                let admin = try await identity.createAdmin(email: email, password: password, name: name)
                print("created admin \(admin.email) (\(admin.id))")
            } catch let refusal as DomainError {
                await platform.close()
                throw ValidationError("\(refusal.title): \(refusal.detail ?? refusal.code)")
            }
            await platform.close()
        }
    }
}

struct Payments: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Payment operations.", subcommands: [Replay.self, Reconcile.self])

    /// The Payments module over this environment's connections (its configuration section applies).
    static func withModule<T>(_ body: (PaymentsModule) async throws -> T) async throws -> T {
        let configuration = try await loadConfiguration()
        let platform = try Platform(configuration: configuration, logger: PlatformRunner.makeLogger(configuration))
        do {
            let module = try await PaymentsModule(context: ModuleContext(platform: platform, module: PaymentsModule.name, ports: Ports()))
            try await module.service.prepare()
            let result = try await body(module)
            await platform.close()
            return result
        } catch {
            await platform.close()
            throw error
        }
    }

    struct Replay: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Process a stored Stripe webhook event again (by its evt_ id).")
        @Argument(help: "The Stripe event id.") var eventID: String

        func run() async throws {
            let outcome = try await Payments.withModule { try await $0.service.replayWebhook(id: eventID) }
            print("\(eventID): \(outcome)")
        }
    }

    struct Reconcile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare one day's payments with Stripe's PaymentIntents and print each difference.",
            discussion: "Exits with status 1 when there is a difference.")
        @Option(help: "The day, YYYY-MM-DD (UTC); today when left out.") var date: String?

        func run() async throws {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd"
            let start: Date
            if let date {
                guard let parsed = formatter.date(from: date) else { throw ValidationError("--date: expected YYYY-MM-DD") }
                start = parsed
            } else {
                start = formatter.date(from: formatter.string(from: Date()))!
            }
            let day = start..<start.addingTimeInterval(86_400)
            let differences = try await Payments.withModule { try await $0.service.reconcile(day) }
            for difference in differences {
                print("\(difference.paymentId ?? "-")\t\(difference.intentId)\t\(difference.problem)")
            }
            print("reconciled \(formatter.string(from: start)): \(differences.count) difference(s)")
            if !differences.isEmpty { throw ExitCode(1) }
        }
    }
}

struct Analytics: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Analytics operations.", subcommands: [Rebuild.self])

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Replay the topics from the beginning into fresh aggregates and switch the dashboards over.",
            discussion: """
                The live analytics worker keeps running; the new aggregates replace the old ones in one write once the \
                replay has caught up, and the replay stays for the tail. The previous generation is kept (to go back \
                to), the one before it dropped.
                """)
        @Option(help: "Leave out the records stored before this day (YYYY-MM-DD, UTC) or time (ISO 8601).") var from: String?
        @Option(help: "Seconds without records that count as caught up.") var idle: Double = 3

        func run() async throws {
            var start: Date?
            if let from {
                let day = DateFormatter()
                day.locale = Locale(identifier: "en_US_POSIX")
                day.timeZone = TimeZone(identifier: "UTC")
                day.dateFormat = "yyyy-MM-dd"
                guard let parsed = (try? Date(from, strategy: .iso8601)) ?? day.date(from: from) else {
                    throw ValidationError("--from: expected YYYY-MM-DD or an ISO 8601 time")
                }
                start = parsed
            }
            guard idle > 0 && idle <= 600 else { throw ValidationError("--idle: between 0 and 600 seconds") }
            let configuration = try await loadConfiguration()
            let platform = try Platform(configuration: configuration, logger: PlatformRunner.makeLogger(configuration))
            do {
                let module = try await AnalyticsModule(context: ModuleContext(platform: platform, module: AnalyticsModule.name, ports: Ports()))
                try await module.service.prepare()
                let rebuild = AnalyticsRebuild(service: module.service, kafka: configuration.kafkaClient, topics: platform.topics,
                                               options: .init(from: start, idle: .milliseconds(Int(idle * 1000))), logger: platform.logger)
                let report = try await rebuild.run()
                print("""
                    rebuilt analytics into generation \(report.generation.number) in \(String(format: "%.1f", report.seconds)) s: \
                    \(report.records) records, \(report.outcome.counted) events counted, \(report.outcome.duplicates) already folded, \
                    \(report.outcome.late) late, \(report.beforeFrom) before --from, \(report.notCloudEvents) not CloudEvents; \
                    \(report.outcome.bucketWrites) bucket writes
                    """)
                await platform.close()
            } catch {
                await platform.close()
                throw error
            }
        }
    }
}
