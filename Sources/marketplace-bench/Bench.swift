import ArgumentParser
import Foundation
import Logging
import MarketplaceBench
import MarketplaceIdentity
import MarketplaceMessaging
import MarketplacePlatform
import MarketplaceRealtime

@main
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "marketplace-bench",
        abstract: "Benchmarks: our adapters against the raw C libraries, same servers, same run (figures in docs/benchmarks.md).",
        subcommands: [KafkaBench.self, MongoBench.self, RealtimeBench.self, FanOutCeilingBench.self, DispatchBench.self, ChatBench.self, NotificationsBench.self, PaymentsBench.self, AnalyticsBench.self])

    /// The machine's state, printed with every run (the figures depend on it).
    static var machine: String {
        let load = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        return "machine: \(ProcessInfo.processInfo.activeProcessorCount) cores, load \(load)"
    }

    static func report(_ results: [BenchResult]) {
        func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count), withPad: " ", startingAt: 0) }
        print(pad("benchmark", 34) + " round        raw/s       ours/s   ratio")
        for result in results {
            print(pad(result.name, 34) + String(format: " %5d %12.0f %12.0f   %.2fx", result.round, result.raw, result.ours, result.ratio))
        }
        let grouped = Dictionary(grouping: results, by: \.name)
        for (name, rounds) in grouped.sorted(by: { $0.key < $1.key }) {
            let ratios = rounds.map(\.ratio).sorted()
            print("\(name): median ratio " + String(format: "%.2fx", ratios[ratios.count / 2]) + " over \(ratios.count) rounds")
        }
    }

    struct KafkaBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "kafka", abstract: "Producer and consumer throughput vs raw librdkafka.")
        @Option var messages = 200_000
        @Option var size = 100
        @Option var partitions = 4
        @Option var rounds = 3
        func run() async throws {
            let configuration = try await PlatformConfiguration.load()
            let results = try await KafkaBenchmark(brokers: configuration.kafkaBrokers, messages: messages, messageSize: size,
                                                   partitions: partitions, rounds: rounds).run()
            Bench.report(results)
        }
    }

    struct MongoBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "mongo", abstract: "Insert and find throughput vs raw libmongoc.")
        @Option var operations = 2_000
        @Option var rounds = 3
        func run() async throws {
            let configuration = try await PlatformConfiguration.load()
            Bench.report(try await MongoBenchmark(uri: configuration.mongoURI, operations: operations, rounds: rounds).run())
        }
    }

    struct RealtimeBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "realtime",
            abstract: "Load for a running gateway (`marketplace worker realtime-gateway`): connections and RSS, deliveries/s, end-to-end latency.")
        @Option(help: "The gateway's WebSocket endpoint.") var url = "ws://127.0.0.1:8001/connection/websocket"
        @Option(help: "The gateway process, to read its RSS.") var gatewayPid: Int32?
        @Option var connections = 10_000
        @Option(parsing: .upToNextOption, help: "Subscriber counts for the throughput runs.") var subscribers: [Int] = [1_000, 10_000]
        @Option var publications = 200
        @Option var latencySubscribers = 10
        @Option var rate = 1_000
        @Option var seconds = 10
        @Option(help: "Channels (one user each) the latency phase spreads its rate over.") var latencyChannels = 1
        @Option(help: "Write the latency samples to <prefix>.gateway and <prefix>.bare.") var dumpLatencies: String?
        @Option(help: "A running `bench fanout-ceiling` to measure beside each throughput run.") var ceilingUrl: String?
        @Option(help: "Keep the connections of the connections phase open this long after measuring.") var holdSeconds = 0
        @Option(help: "linger.ms of the latency phase's producer (5, as the platform's producers).") var lingerMs = 5

        func run() async throws {
            let configuration = try await PlatformConfiguration.load()
            let platform = try Platform(configuration: configuration, logger: Logger(label: "bench"))
            let identity = IdentityService(mongo: platform.mongo, redis: platform.redis)
            try await identity.prepare()
            let account = try await identity.register(email: "bench-\(UUID().uuidString.prefix(8).lowercased())@example.com",
                                                      password: "correct horse battery", name: "Bench", role: "client", traceparent: nil)
            let bench = RealtimeBenchmark(url: url, token: account.accessToken, channel: "user:\(account.user.id)",
                                          brokers: configuration.kafkaBrokers, topic: TopicNames(prefix: configuration.kafkaTopicPrefix).name(.realtimePublications),
                                          gatewayPID: gatewayPid, ceilingURL: ceilingUrl)
            print(Bench.machine)
            if connections > 0 { try await bench.connections(connections, hold: .seconds(holdSeconds)) }
            for count in subscribers where count > 0 { print(try await bench.throughput(subscribers: count, publications: publications)) }
            if rate > 0 {
                var channels: [(token: String, channel: String)] = []
                if latencyChannels > 1 {
                    for _ in 0..<latencyChannels {
                        let user = try await identity.register(email: "bench-\(UUID().uuidString.prefix(8).lowercased())@example.com",
                                                               password: "correct horse battery", name: "Bench", role: "client", traceparent: nil)
                        channels.append((user.accessToken, "user:\(user.user.id)"))
                    }
                }
                print(try await bench.latency(subscribers: latencySubscribers, rate: rate, seconds: seconds, lingerMillis: lingerMs,
                                              channels: channels, dump: dumpLatencies))
            }
            await platform.close()
        }
    }

    struct FanOutCeilingBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fanout-ceiling",
            abstract: "A bare NIO WebSocket fan-out server: the ceiling `realtime --ceiling-url` compares deliveries/s with.")
        @Option var port = 18190
        @Option var publications = 200

        func run() async throws {
            try await FanOutCeiling(port: port, publications: publications).run()
        }
    }

    struct ChatBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "chat",
            abstract: "Chat: message send → the other member's WebSocket beside a bare Kafka consumer; a history page beside a raw libmongoc find.")
        @Option var conversations = 100
        @Option var rate = 200
        @Option var seconds = 10
        @Option var pages = 300

        func run() async throws {
            let configuration = try await PlatformConfiguration.load()
            let platform = try Platform(configuration: configuration, logger: Logger(label: "bench"))
            print(Bench.machine)
            for line in try await ChatBenchmark(platform: platform, conversations: conversations, rate: rate, seconds: seconds, pages: pages).run() {
                print(line)
            }
            await platform.close()
        }
    }

    struct AnalyticsBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "analytics",
            abstract: "Analytics: the batched fold (events/s, events per database write) beside one upsert per event; a 90-day provider series p50/p99.")
        @Option var events = 5_000
        @Option var batch = 500
        @Option var providers = 1_000
        @Option var queries = 200

        func run() async throws {
            let configuration = try await PlatformConfiguration.load()
            let platform = try Platform(configuration: configuration, logger: Logger(label: "bench"))
            print(Bench.machine)
            for line in try await AnalyticsBenchmark(platform: platform, events: events, batch: batch, providers: providers, queries: queries).run() { print(line) }
            await platform.close()
        }
    }

    struct PaymentsBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "payments",
            abstract: "Payments: Stripe webhook intake (verify + store + 2xx) beside a raw libmongoc insert loop; signature verification alone.")
        @Option var events = 1_000
        @Option var rounds = 3

        func run() async throws {
            let configuration = try await PlatformConfiguration.load()
            let platform = try Platform(configuration: configuration, logger: Logger(label: "bench"))
            print(Bench.machine)
            for line in try await PaymentBenchmark(platform: platform, events: events, rounds: rounds).run() { print(line) }
            await platform.close()
        }
    }

    struct NotificationsBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "notifications",
            abstract: "Notifications: e-mail and push through the whole pipeline beside the sinks' raw accept rates; event → in-app record p50/p99.")
        @Option var count = 300
        @Option var rate = 50
        @Option var seconds = 10
        @Option var maildir = ".stack/mail"
        @Option var smtpPort = 2525

        func run() async throws {
            let configuration = try await PlatformConfiguration.load()
            let platform = try Platform(configuration: configuration, logger: Logger(label: "bench"))
            print(Bench.machine)
            for line in try await NotificationBenchmark(platform: platform, count: count, rate: rate, seconds: seconds, maildir: maildir,
                                                        smtpPort: smtpPort).run() {
                print(line)
            }
            await platform.close()
        }
    }

    struct DispatchBench: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "dispatch",
            abstract: "Dispatch decision latency with N online providers in Redis, and GEOSEARCH through our client; prints the GEO keys for redis-benchmark.")
        @Option(parsing: .upToNextOption) var providers: [Int] = [10_000, 100_000]
        @Option var requests = 200

        func run() async throws {
            let configuration = try await PlatformConfiguration.load()
            let platform = try Platform(configuration: configuration, logger: Logger(label: "bench"))
            let bench = DispatchBenchmark(platform: platform, requests: requests)
            print(Bench.machine)
            for count in providers {
                let result = try await bench.run(providers: count)
                print(String(format: "dispatch %d providers: populate %.1f s; GEOSEARCH (our client) %.0f/s; decision latency over %d requests: p50 %.2f ms, p99 %.2f ms, mean %.2f ms",
                             count, result.populateSeconds, result.geosearchPerSecond, requests, result.p50, result.p99, result.mean))
                print("geo key: \(result.geoKey)")
            }
            await platform.close()
        }
    }
}
