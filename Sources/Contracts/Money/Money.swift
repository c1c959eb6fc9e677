import Foundation

/// An exact amount in an ISO 4217 currency. Arithmetic is on `Decimal`, never on floating
/// point. Encoded with the amount as a decimal string (`{"amount": "12.50", "currency": "EUR"}`)
/// so that JSON clients cannot round it; an encoder that stores decimals natively (BSON's
/// decimal128) says so with `CodingUserInfoKey.nativeDecimals` and gets the `Decimal` itself.
public struct Money: Codable, Sendable, Hashable, CustomStringConvertible {
    public var amount: Decimal
    public var currency: String

    public init(amount: Decimal, currency: String) {
        self.amount = amount
        self.currency = currency
    }

    /// Parses a decimal string ("12.50"); nil when it is not a plain decimal number.
    public init?(_ amount: String, currency: String) {
        guard let value = Money.parse(amount) else { return nil }
        self.init(amount: value, currency: currency)
    }

    public var description: String { "\(amountText) \(currency)" }

    /// The amount as a plain decimal string with at least the currency's minor-unit digits
    /// ("80.00" EUR, "500" JPY), as JSON carries it. Digits beyond them are kept, never rounded.
    public var amountText: String { Money.format(amount, minorDigits: Money.minorUnitDigits(currency)) }

    /// ISO 4217 minor units: 2 unless listed.
    public static func minorUnitDigits(_ currency: String) -> Int {
        switch currency.uppercased() {
        case "BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF": 0
        case "BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND": 3
        default: 2
        }
    }

    enum CodingKeys: String, CodingKey { case amount, currency }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        currency = try container.decode(String.self, forKey: .currency)
        if let text = try? container.decode(String.self, forKey: .amount) {
            guard let value = Money.parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: .amount, in: container, debugDescription: "not a decimal number: \(text)")
            }
            amount = value
        } else {
            amount = try container.decode(Decimal.self, forKey: .amount)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        if encoder.userInfo[.nativeDecimals] as? Bool == true {
            try container.encode(amount, forKey: .amount)
        } else {
            try container.encode(amountText, forKey: .amount)
        }
        try container.encode(currency, forKey: .currency)
    }

    static let posix = Locale(identifier: "en_US_POSIX")

    /// Digits with an optional sign and fraction; no exponent, no grouping.
    public static func parse(_ text: String) -> Decimal? {
        guard text.range(of: #"^[+-]?[0-9]+(\.[0-9]+)?$"#, options: .regularExpression) != nil else { return nil }
        return Decimal(string: text, locale: posix)
    }

    public static func format(_ amount: Decimal, minorDigits: Int = 0) -> String {
        var text = NSDecimalNumber(decimal: amount).description(withLocale: posix)
        let fraction = text.firstIndex(of: ".").map { text.distance(from: $0, to: text.endIndex) - 1 } ?? -1
        if fraction < minorDigits {
            if fraction < 0 && minorDigits > 0 { text += "." }
            text += String(repeating: "0", count: minorDigits - max(fraction, 0))
        }
        return text
    }
}

extension CodingUserInfoKey {
    /// Set to `true` by encoders that store `Decimal` exactly (BSON decimal128): `Money` then
    /// encodes its amount as a `Decimal` instead of a string.
    public static let nativeDecimals = CodingUserInfoKey(rawValue: "marketplace.nativeDecimals")!
}

extension Money {
    /// The amount in the currency's minor units (cents for EUR), as payment services count; nil
    /// when the amount has more decimals than the currency has minor digits.
    public var minorUnits: Int? {
        let scaled = amount * Money.scale(currency)
        var value = scaled, rounded = Decimal()
        NSDecimalRound(&rounded, &value, 0, .plain)
        guard rounded == scaled else { return nil }
        return NSDecimalNumber(decimal: rounded).intValue
    }

    public init(minorUnits: Int, currency: String) {
        self.init(amount: Decimal(minorUnits) / Money.scale(currency), currency: currency)
    }

    /// This amount times `rate`, rounded half up to the currency's minor unit.
    public func times(_ rate: Decimal) -> Money {
        var value = amount * rate, rounded = Decimal()
        NSDecimalRound(&rounded, &value, Money.minorUnitDigits(currency), .plain)
        return Money(amount: rounded, currency: currency)
    }

    static func scale(_ currency: String) -> Decimal {
        var scale = Decimal(1)
        for _ in 0..<minorUnitDigits(currency) { scale *= 10 }
        return scale
    }

    /// Sums of one currency only (a mix is a programming error, not input).
    public static func + (lhs: Money, rhs: Money) -> Money {
        precondition(lhs.currency == rhs.currency, "adding \(lhs.currency) to \(rhs.currency)")
        return Money(amount: lhs.amount + rhs.amount, currency: lhs.currency)
    }
    public static func - (lhs: Money, rhs: Money) -> Money { lhs + -rhs }
    public static prefix func - (value: Money) -> Money { Money(amount: -value.amount, currency: value.currency) }
    public static func zero(_ currency: String) -> Money { Money(amount: 0, currency: currency) }
}
