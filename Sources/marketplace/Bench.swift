import ArgumentParser
import Foundation
import MarketplaceBench
import MarketplacePlatform

struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks: our adapters against the raw C libraries, same servers, same run (figures in docs/benchmarks.md).",
        subcommands: [KafkaBench.self, MongoBench.self])

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
            let configuration = try await loadConfiguration()
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
            let configuration = try await loadConfiguration()
            Bench.report(try await MongoBenchmark(uri: configuration.mongoURI, operations: operations, rounds: rounds).run())
        }
    }
}
