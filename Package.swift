// swift-tools-version:6.1
import PackageDescription

// The tree mirrors the architecture (docs/architecture.md):
//   Sources/Contracts  what services share: events and payloads, topics, Caller, Money, DomainError, ports — no I/O
//   Sources/Adapters   Kafka (librdkafka), MongoDB (libmongoc), Redis (hiredis), AWS (SigV4, S3, SNS), SMTP, HTTP conventions
//   Sources/Messaging  CloudEvents on Kafka, topic names, the outbox relay, the inbox, consumer workers
//   Sources/Platform   the runtime: the ServiceModule seam, configuration, health, OpenAPI, topics as code
//   Sources/Services   one module per service, each Domain/ Adapters/ Routes/ Workers/ and its <Name>Module
//   Sources/App        the composition: which modules this executable has
//   Sources/marketplace the production executable; Sources/marketplace-bench the benchmarks
let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "Marketplace",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "marketplace", targets: ["marketplace"]),
        .executable(name: "marketplace-bench", targets: ["marketplace-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.1.0"),
        .package(url: "https://github.com/apple/swift-configuration.git", from: "1.0.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.8.0"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.29.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.0.0"),
    ],
    targets: [
        // C libraries, linked through pkg-config.
        .systemLibrary(name: "CRdKafka", path: "Sources/Adapters/C/CRdKafka", pkgConfig: "rdkafka",
                       providers: [.apt(["librdkafka-dev"])]),
        .systemLibrary(name: "CMongoc", path: "Sources/Adapters/C/CMongoc", pkgConfig: "libmongoc-1.0",
                       providers: [.apt(["libmongoc-dev"])]),
        .systemLibrary(name: "CHiredis", path: "Sources/Adapters/C/CHiredis", pkgConfig: "hiredis",
                       providers: [.apt(["libhiredis-dev"])]),

        // What services share; depends on nothing.
        .target(name: "MarketplaceContracts", path: "Sources/Contracts", swiftSettings: strict),

        .target(name: "MarketplaceKafka", dependencies: [
            "CRdKafka", "MarketplaceContracts",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], path: "Sources/Adapters/Kafka", swiftSettings: strict),
        .target(name: "MarketplaceMongo", dependencies: [
            "CMongoc", "MarketplaceContracts",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Sources/Adapters/MongoDB", swiftSettings: strict),
        .target(name: "MarketplaceRedis", dependencies: [
            "CHiredis", "MarketplaceContracts",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Sources/Adapters/Redis", swiftSettings: strict),

        // AWS's APIs over HTTP: the SigV4 signer (written once), S3 (presigned uploads and
        // downloads), SNS (mobile push, SMS).
        .target(name: "MarketplaceAWS", dependencies: [
            "MarketplaceContracts",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ], path: "Sources/Adapters/AWS", swiftSettings: strict),

        // SMTP on SwiftNIO: EHLO, STARTTLS, AUTH PLAIN/LOGIN, multipart messages.
        .target(name: "MarketplaceSMTP", dependencies: [
            "MarketplaceContracts",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ], path: "Sources/Adapters/SMTP", swiftSettings: strict),

        // HTTP conventions every service shares: problem+json errors (DomainError mapped), the
        // request context, the authorization middleware.
        .target(name: "MarketplaceHTTP", dependencies: [
            "MarketplaceContracts",
            .product(name: "Hummingbird", package: "hummingbird"),
        ], path: "Sources/Adapters/HTTP", swiftSettings: strict),

        .target(name: "MarketplaceMessaging", dependencies: [
            "MarketplaceContracts", "MarketplaceKafka", "MarketplaceMongo",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Messaging", swiftSettings: strict),

        // The runtime: the ServiceModule seam and everything a process has besides its services.
        // It imports no service.
        .target(name: "MarketplacePlatform", dependencies: [
            "MarketplaceContracts", "MarketplaceKafka", "MarketplaceMongo", "MarketplaceRedis", "MarketplaceMessaging", "MarketplaceHTTP", "MarketplaceAWS",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Configuration", package: "swift-configuration"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "Yams", package: "Yams"),
        ], path: "Sources/Platform", swiftSettings: strict),

        // Services: each its own module on the seam; they share Contracts, never each other.
        .target(name: "MarketplaceIdentity", dependencies: [
            "MarketplaceContracts", "MarketplaceMongo", "MarketplaceRedis", "MarketplaceMessaging", "MarketplaceHTTP", "MarketplacePlatform",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ], path: "Sources/Services/Identity", swiftSettings: strict),

        .target(name: "MarketplaceDispatch", dependencies: [
            "MarketplaceContracts", "MarketplaceMongo", "MarketplaceRedis", "MarketplaceKafka", "MarketplaceMessaging", "MarketplaceHTTP",
            "MarketplacePlatform",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], path: "Sources/Services/Dispatch", swiftSettings: strict),

        // The WebSocket gateway (Centrifugo client protocol v2) and the bridge from domain events.
        .target(name: "MarketplaceRealtime", dependencies: [
            "MarketplaceContracts", "MarketplaceKafka", "MarketplaceMongo", "MarketplaceRedis", "MarketplaceMessaging", "MarketplaceHTTP",
            "MarketplacePlatform",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ], path: "Sources/Services/Realtime", swiftSettings: strict),

        // Job conversations: persisted history, read cursors, attachments in S3.
        .target(name: "MarketplaceChat", dependencies: [
            "MarketplaceContracts", "MarketplaceMongo", "MarketplaceRedis", "MarketplaceMessaging", "MarketplaceHTTP", "MarketplacePlatform",
            "MarketplaceAWS",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], path: "Sources/Services/Chat", swiftSettings: strict),

        // Notifications: in-app feed, push (SNS), e-mail (SMTP), SMS (SNS), preferences, templates.
        .target(name: "MarketplaceNotifications", dependencies: [
            "MarketplaceContracts", "MarketplaceMongo", "MarketplaceRedis", "MarketplaceMessaging", "MarketplaceHTTP", "MarketplacePlatform",
            "MarketplaceAWS", "MarketplaceSMTP",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
            .product(name: "Mustache", package: "swift-mustache"),
        ], path: "Sources/Services/Notifications", resources: [.copy("Templates")], swiftSettings: strict),

        // Payments: Stripe holds, captures, refunds, verified webhooks, a double-entry ledger.
        .target(name: "MarketplacePayments", dependencies: [
            "MarketplaceContracts", "MarketplaceMongo", "MarketplaceMessaging", "MarketplaceHTTP", "MarketplacePlatform",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], path: "Sources/Services/Payments", swiftSettings: strict),

        // Analytics: event-time aggregates for providers and admins.
        .target(name: "MarketplaceAnalytics", dependencies: [
            "MarketplaceContracts", "MarketplaceMongo", "MarketplaceMessaging", "MarketplaceHTTP", "MarketplacePlatform", "MarketplaceKafka",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Metrics", package: "swift-metrics"),
        ], path: "Sources/Services/Analytics", resources: [.copy("Dashboard")], swiftSettings: strict),

        // The composition: the one list of modules the executables run.
        .target(name: "MarketplaceApp", dependencies: [
            "MarketplacePlatform", "MarketplaceIdentity", "MarketplaceDispatch", "MarketplaceRealtime", "MarketplaceChat", "MarketplaceNotifications",
            "MarketplacePayments", "MarketplaceAnalytics",
        ], path: "Sources/App", swiftSettings: strict),

        .executableTarget(name: "marketplace", dependencies: [
            "MarketplaceApp", "MarketplacePlatform", "MarketplaceIdentity", "MarketplaceContracts", "MarketplacePayments", "MarketplaceAnalytics",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/marketplace", swiftSettings: strict),

        // Benchmarks: our adapters against the raw C libraries in the same run, out of the
        // production binary.
        .target(name: "MarketplaceBench", dependencies: [
            "CRdKafka", "CMongoc", "MarketplaceKafka", "MarketplaceMongo", "MarketplaceRealtime", "MarketplaceRedis", "MarketplaceNotifications", "MarketplaceSMTP", "MarketplaceAWS",
            "MarketplaceDispatch", "MarketplaceContracts", "MarketplaceHTTP", "MarketplacePlatform", "MarketplaceMessaging",
            "MarketplaceChat", "MarketplaceIdentity", "MarketplacePayments", "MarketplaceAnalytics",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
        ], path: "Sources/Bench", swiftSettings: strict),

        .executableTarget(name: "marketplace-bench", dependencies: [
            "MarketplaceBench", "MarketplacePlatform", "MarketplaceIdentity", "MarketplaceRealtime", "MarketplaceMessaging", "MarketplaceContracts",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "Sources/marketplace-bench", swiftSettings: strict),

        .testTarget(name: "MarketplaceTests", dependencies: [
            "MarketplaceContracts", "MarketplaceKafka", "MarketplaceMongo", "MarketplaceRedis",
            "MarketplaceMessaging", "MarketplacePlatform", "MarketplaceHTTP", "MarketplaceIdentity", "MarketplaceDispatch",
            "MarketplaceRealtime", "MarketplaceChat", "MarketplaceNotifications", "MarketplaceAWS", "MarketplaceSMTP", "MarketplaceApp", "MarketplacePayments", "MarketplaceAnalytics",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Configuration", package: "swift-configuration"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Yams", package: "Yams"),
        ], path: "Tests/MarketplaceTests", swiftSettings: strict),
    ]
)
