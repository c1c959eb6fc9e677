import Configuration
import Foundation

/// A module's configuration section (`realtime.*`), read with validation: a bad value fails
/// start-up with a `ConfigurationError` that names the whole key and its environment variable.
public struct ConfigurationSection: Sendable {
    let reader: ConfigReader
    /// "realtime"; empty for the platform's top-level keys.
    public let name: String

    public init(reader: ConfigReader, name: String = "") {
        self.reader = reader
        self.name = name
    }

    func fullKey(_ key: String) -> String { name.isEmpty ? key : "\(name).\(key)" }

    func raw(_ key: String) -> String? { reader.string(forKey: ConfigKey(fullKey(key))) }

    /// A non-empty string, or `fallback` when unset.
    public func string(_ key: String, default fallback: String) throws -> String {
        guard let value = raw(key) else { return fallback }
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ConfigurationError(key: fullKey(key), value: value, reason: "must not be empty")
        }
        return value
    }

    /// A non-empty string, or nil when unset (a setting whose absence turns something off).
    public func optionalString(_ key: String) throws -> String? {
        guard raw(key) != nil else { return nil }
        return try string(key, default: "")
    }

    /// `true` or `false`, or `fallback` when unset.
    public func flag(_ key: String, default fallback: Bool) throws -> Bool {
        guard let text = raw(key) else { return fallback }
        switch text.trimmingCharacters(in: .whitespaces).lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError(key: fullKey(key), value: text, reason: "expected true or false")
        }
    }

    public func integer(_ key: String, default fallback: Int, in range: ClosedRange<Int>) throws -> Int {
        guard let text = raw(key) else { return fallback }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)) else {
            throw ConfigurationError(key: fullKey(key), value: text, reason: "expected an integer")
        }
        guard range.contains(value) else {
            throw ConfigurationError(key: fullKey(key), value: text, reason: "expected \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    public func number(_ key: String, default fallback: Double, in range: ClosedRange<Double>) throws -> Double {
        guard let text = raw(key) else { return fallback }
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value.isFinite else {
            throw ConfigurationError(key: fullKey(key), value: text, reason: "expected a number")
        }
        guard range.contains(value) else {
            throw ConfigurationError(key: fullKey(key), value: text, reason: "expected \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }

    /// A secret (a key, a password): never logged by the configuration's access reporting and
    /// never echoed in errors. nil when unset.
    public func secret(_ key: String) throws -> String? {
        guard let value = reader.string(forKey: ConfigKey(fullKey(key)), isSecret: true) else { return nil }
        guard !value.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ConfigurationError(key: fullKey(key), value: value, reason: "must not be empty")
        }
        return value
    }

    /// Seconds as a number ("0.5", "900").
    public func seconds(_ key: String, default fallback: Double, in range: ClosedRange<Double>) throws -> Double {
        try number(key, default: fallback, in: range)
    }
}
