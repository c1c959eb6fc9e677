import Foundation
import MarketplaceAWS
import MarketplaceRedis

/// SMS through SNS `Publish` to a phone number, within a per-user and a platform-wide daily cap
/// (Redis counters per UTC day; a send over either cap is skipped, not retried: SMS costs money).
public struct SMSSender: ChannelSender {
    public let channel = NotificationChannel.sms
    let sns: SNSClient
    let redis: RedisClient
    let perUserDaily: Int
    let platformDaily: Int
    let senderID: String?

    public init(sns: SNSClient, redis: RedisClient, perUserDaily: Int, platformDaily: Int, senderID: String? = nil) {
        self.sns = sns
        self.redis = redis
        self.perUserDaily = perUserDaily
        self.platformDaily = platformDaily
        self.senderID = senderID
    }

    /// Counts the send against both caps at once; refunds both when either is over.
    static let capScript = """
    local user = redis.call('INCR', KEYS[1])
    local total = redis.call('INCR', KEYS[2])
    redis.call('EXPIRE', KEYS[1], 172800)
    redis.call('EXPIRE', KEYS[2], 172800)
    if user > tonumber(ARGV[1]) or total > tonumber(ARGV[2]) then
      redis.call('DECR', KEYS[1])
      redis.call('DECR', KEYS[2])
      if user > tonumber(ARGV[1]) then return 1 end
      return 2
    end
    return 0
    """

    public func send(_ request: SendRequest) async throws -> SendOutcome {
        guard let sms = request.sms else { return .skipped("no SMS content") }
        let day = Self.day(Date())
        let reply = try await redis.send(["EVAL", Self.capScript, 2, "notif:sms:user:\(request.userId):\(day)", "notif:sms:all:\(day)",
                                          perUserDaily, platformDaily])
        if case .error(let message) = reply { throw RedisError.server(message) }
        switch reply.int ?? 0 {
        case 1: return .skipped("the user's daily SMS cap (\(perUserDaily)) is reached")
        case 2: return .skipped("the platform's daily SMS cap (\(platformDaily)) is reached")
        default: break
        }
        do {
            return .sent(providerMessageID: try await sns.publish(toPhone: sms.to, text: sms.text, senderID: senderID))
        } catch let error as AWSError where !error.isTransient {
            throw PermanentDeliveryFailure("\(error)")
        } catch {
            // Not sent: the attempt does not count against the caps.
            _ = try? await redis.pipeline([["DECR", "notif:sms:user:\(request.userId):\(day)"], ["DECR", "notif:sms:all:\(day)"]])
            throw error
        }
    }

    static func day(_ date: Date) -> String {
        let parts = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: date)
        return String(format: "%04d%02d%02d", parts.year ?? 0, parts.month ?? 0, parts.day ?? 0)
    }
}
