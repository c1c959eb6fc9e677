import Foundation
import MarketplaceAWS

/// Mobile push through SNS: one Publish per enabled device of the recipient, with the job as the
/// collapse key (`collapse_key` for FCM, `apns-collapse-id` through SNS's attribute) and a TTL, so
/// a newer job update replaces an older one still waiting on the phone. An endpoint SNS reports
/// disabled marks its device disabled until the app registers the token again.
public struct PushSender: ChannelSender {
    public let channel = NotificationChannel.push
    let sns: SNSClient
    let devices: DeviceRepository
    let onDisabled: @Sendable (Device) -> Void

    public init(sns: SNSClient, devices: DeviceRepository, onDisabled: @escaping @Sendable (Device) -> Void = { _ in }) {
        self.sns = sns
        self.devices = devices
        self.onDisabled = onDisabled
    }

    public func send(_ request: SendRequest) async throws -> SendOutcome {
        guard let push = request.push else { return .skipped("no push content") }
        let targets = try await devices.enabledDevices(of: request.userId)
        guard !targets.isEmpty else { return .skipped("no enabled device") }
        let message = try Self.message(push, critical: request.urgency == .critical)
        let attributes = Self.attributes(push, critical: request.urgency == .critical)
        var sent: [String] = []
        var transient: Error?
        var permanent: [String] = []
        for device in targets {
            do {
                sent.append(try await sns.publish(toEndpoint: device.endpointArn, json: message, attributes: attributes))
            } catch let error as AWSError where error.code == "EndpointDisabled" {
                try await devices.disable(device._id, at: Date())
                onDisabled(device)
                permanent.append("device \(device._id): endpoint disabled")
            } catch let error as AWSError where !error.isTransient {
                permanent.append("device \(device._id): \(error)")
            } catch {
                transient = error
            }
        }
        // One phone that took it is a delivery; retrying would push it twice to that phone.
        if !sent.isEmpty { return .sent(providerMessageID: sent.joined(separator: ",")) }
        if let transient { throw transient }
        throw PermanentDeliveryFailure(permanent.joined(separator: "; "))
    }

    /// SNS's per-platform JSON (`MessageStructure=json`): each platform's payload is itself a JSON string.
    static func message(_ push: SendRequest.PushContent, critical: Bool) throws -> String {
        var fcm: [String: Any] = ["notification": ["title": push.title, "body": push.body], "data": push.data,
                                  "time_to_live": push.ttlSeconds, "priority": critical ? "high" : "normal"]
        if let key = push.collapseKey { fcm["collapse_key"] = key }
        let apns: [String: Any] = ["aps": ["alert": ["title": push.title, "body": push.body], "sound": "default"], "data": push.data]
        let fcmText = String(decoding: try JSONSerialization.data(withJSONObject: fcm, options: [.sortedKeys]), as: UTF8.self)
        let apnsText = String(decoding: try JSONSerialization.data(withJSONObject: apns, options: [.sortedKeys]), as: UTF8.self)
        let envelope: [String: String] = ["default": push.body, "GCM": fcmText, "APNS": apnsText, "APNS_SANDBOX": apnsText]
        return String(decoding: try JSONSerialization.data(withJSONObject: envelope, options: [.sortedKeys]), as: UTF8.self)
    }

    static func attributes(_ push: SendRequest.PushContent, critical: Bool) -> [String: String] {
        var attributes = ["AWS.SNS.MOBILE.APNS.TTL": String(push.ttlSeconds), "AWS.SNS.MOBILE.FCM.TTL": String(push.ttlSeconds),
                          "AWS.SNS.MOBILE.APNS.PUSH_TYPE": "alert", "AWS.SNS.MOBILE.APNS.PRIORITY": critical ? "10" : "5"]
        if let key = push.collapseKey { attributes["AWS.SNS.MOBILE.APNS.COLLAPSE_ID"] = key }
        return attributes
    }
}
