/// What a notification is about; names its templates (`Templates/<locale>/<kind>.<part>.mustache`).
public enum NotificationKind: String, Codable, Sendable, CaseIterable {
    case offerReceived = "offer-received"
    case jobAssigned = "job-assigned"
    case jobEnRoute = "job-en-route"
    case jobArrived = "job-arrived"
    case jobInProgress = "job-in-progress"
    case jobCompleted = "job-completed"
    case jobCancelled = "job-cancelled"
    case chatMessage = "chat-message"
    case paymentReceipt = "payment-receipt"
    case paymentRefunded = "payment-refunded"
    case announcement
    case passwordReset = "password-reset"
    case welcome

    public var category: NotificationCategory {
        switch self {
        case .offerReceived, .jobAssigned, .jobEnRoute, .jobArrived, .jobInProgress, .jobCompleted, .jobCancelled: .jobs
        case .chatMessage: .chat
        case .paymentReceipt, .paymentRefunded: .payments
        case .announcement: .marketing
        case .passwordReset, .welcome: .account
        }
    }

    /// How it may wait: critical job updates go out during quiet hours (and fall back to SMS when
    /// unread), what the user just asked for goes out at once, the rest waits for the quiet
    /// hours to end.
    public var urgency: Urgency {
        switch self {
        case .offerReceived, .jobArrived, .jobCancelled: .critical
        case .passwordReset, .welcome: .immediate
        default: .normal
        }
    }

    public enum Urgency: String, Codable, Sendable { case critical, immediate, normal }

    /// The channels this kind can use at all (its templates exist for them).
    public var channels: Set<NotificationChannel> {
        switch self {
        case .passwordReset, .welcome: [.email]
        case .chatMessage: [.push]
        case .paymentReceipt, .paymentRefunded: [.inApp, .push, .email]
        case .jobArrived, .jobCancelled: [.inApp, .push, .sms]
        default: [.inApp, .push]
        }
    }

    /// The job status whose notification this is, for job updates.
    public static func forJobStatus(_ status: String) -> NotificationKind? {
        switch status {
        case "en_route": .jobEnRoute
        case "arrived": .jobArrived
        case "in_progress": .jobInProgress
        case "completed": .jobCompleted
        case "cancelled": .jobCancelled
        default: nil
        }
    }
}

public enum NotificationCategory: String, Codable, Sendable, CaseIterable { case jobs, chat, payments, account, marketing }

public enum NotificationChannel: String, Codable, Sendable, CaseIterable {
    case inApp = "in_app", push, email, sms

    /// The channels a sender consumes (in-app is written by the planner itself).
    public static let sent: [NotificationChannel] = [.push, .email, .sms]
}
