import Foundation
import MarketplaceAWS

/// Devices' tokens as SNS platform endpoints, under one platform application per OS (FCM for
/// Android, APNs for iOS). A token SNS already knows answers its endpoint; it is enabled again,
/// since the app registering it is the proof that it works.
public struct SNSEndpointRegistry: PushEndpointRegistry {
    public let sns: SNSClient
    public let applications: [Device.Platform: String]

    public init(sns: SNSClient, applications: [Device.Platform: String]) {
        self.sns = sns
        self.applications = applications
    }

    /// Creates the platform applications (development: against moto, with placeholder credentials).
    public static func creatingApplications(sns: SNSClient, prefix: String) async throws -> SNSEndpointRegistry {
        let android = try await sns.createPlatformApplication(name: "\(prefix)-android", platform: "GCM", credential: "local-fcm-server-key")
        let ios = try await sns.createPlatformApplication(name: "\(prefix)-ios", platform: "APNS_SANDBOX", credential: "local-apns-key")
        return SNSEndpointRegistry(sns: sns, applications: [.android: android, .ios: ios])
    }

    public func register(platform: Device.Platform, token: String, userID: String) async throws -> String {
        guard let application = applications[platform] else { throw PermanentDeliveryFailure("no platform application for \(platform.rawValue)") }
        let endpoint: String
        do {
            endpoint = try await sns.createPlatformEndpoint(application: application, token: token)
        } catch let error as AWSError where error.code == "InvalidParameter" && error.message.contains("already exists") {
            // "Endpoint <arn> already exists with the same Token, but different attributes."
            guard let arn = error.message.split(separator: " ").first(where: { $0.hasPrefix("arn:") }) else { throw error }
            endpoint = String(arn)
        }
        try await sns.setEndpointAttributes(endpoint, ["Enabled": "true", "Token": token])
        return endpoint
    }

    public func unregister(endpoint: String) async throws { try await sns.deleteEndpoint(endpoint) }
}
