import Foundation
import MarketplaceContracts

/// Rules for what a user may submit. Pure functions: the domain knows no I/O.
public enum Credentials {
    /// Lower-cased and trimmed; nil when it is not a plausible address.
    public static func normalizeEmail(_ raw: String) -> String? {
        let email = raw.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        guard email.count <= 254, email.range(of: #"^[^@\s]+@[^@\s]+\.[^@\s]+$"#, options: .regularExpression) != nil else { return nil }
        return email
    }

    /// Why a password is refused, or nil when it is acceptable: at least 10 characters, at most
    /// 128, and not one of the passwords attackers try first.
    public static func passwordProblem(_ password: String) -> String? {
        if password.count < 10 { return "the password needs at least 10 characters" }
        if password.count > 128 { return "the password may have at most 128 characters" }
        if commonPasswords.contains(password.lowercased()) { return "the password is too common" }
        if Set(password).count < 4 { return "the password repeats too few characters" }
        return nil
    }

    /// The most common passwords of 10+ characters in public breach lists.
    static let commonPasswords: Set<String> = [
        "1234567890", "0123456789", "qwertyuiop", "password1", "password12", "password123", "password1234",
        "1q2w3e4r5t", "1qaz2wsx3edc", "qwerty1234", "qwerty12345", "iloveyou12", "abcdefghij", "abc1234567",
        "passw0rd123", "letmein123", "welcome123", "administrator", "sunshine123", "football123", "baseball123",
        "princess123", "qazwsxedcrfv", "zaq12wsxcde", "1111111111", "0987654321", "9876543210", "asdfghjkl1",
        "trustno1234", "superman123", "changeme123", "marketplace", "marketplace1", "password!1",
    ]

    public static func validName(_ name: String) -> String? {
        let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
        return (1...100).contains(trimmed.count) ? trimmed : nil
    }
}
