import Foundation

/// What a moderation rule made of a message's text before it is stored: the text to store and
/// the names of the rules that changed it (recorded on the message).
public struct ModerationOutcome: Sendable, Equatable {
    public var text: String
    public var applied: [String]

    public init(text: String, applied: [String]) {
        self.text = text
        self.applied = applied
    }
}

/// The pre-send hook: every message's text passes through it before it is stored. A deployment
/// chains its own rules (a word list, a classifier) behind the default.
public protocol ModerationHook: Sendable {
    func review(_ text: String) -> ModerationOutcome
}

/// The default rule: e-mail addresses and phone numbers are masked, so that contact stays on
/// the platform (paying outside it is the first thing disintermediation does).
public struct ContactMasking: ModerationHook {
    public static let emailMask = "[email hidden]"
    public static let phoneMask = "[phone hidden]"

    // An address: local part, @, a domain with a dot. A phone number: 7 to 15 digits, optionally
    // after a +, separated by spaces, dots, dashes or parentheses (E.164 is at most 15 digits).
    private static let email = try! NSRegularExpression(pattern: #"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"#)
    private static let phone = try! NSRegularExpression(pattern: #"(?<![\w])\+?\(?\d(?:[\s.\-()]*\d){6,14}(?![\w])"#)

    public init() {}

    public func review(_ text: String) -> ModerationOutcome {
        var applied: [String] = []
        var result = text
        if let masked = Self.replace(Self.email, in: result, with: Self.emailMask) {
            result = masked
            applied.append("email_masked")
        }
        if let masked = Self.replace(Self.phone, in: result, with: Self.phoneMask) {
            result = masked
            applied.append("phone_masked")
        }
        return ModerationOutcome(text: result, applied: applied)
    }

    private static func replace(_ pattern: NSRegularExpression, in text: String, with mask: String) -> String? {
        let range = NSRange(text.startIndex..., in: text)
        guard pattern.firstMatch(in: text, range: range) != nil else { return nil }
        return pattern.stringByReplacingMatches(in: text, range: range, withTemplate: NSRegularExpression.escapedTemplate(for: mask))
    }
}
