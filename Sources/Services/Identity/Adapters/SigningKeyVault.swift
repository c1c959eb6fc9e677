import Crypto
import Foundation
import MarketplaceContracts

/// Seals the token-signing private keys before they reach MongoDB: AES-256-GCM under a
/// key-encryption key (KEK) from configuration (a Kubernetes Secret in production; generated into
/// the git-ignored `.stack/` locally). Anyone who can read the database no longer holds keys that
/// mint tokens. Rotating the KEK: configure the new one as current and the old one as previous;
/// each instance re-seals what it loads with the current one, so no restart order matters.
public struct SigningKeyVault: Sendable {
    struct Sealed: Sendable {
        var kekID: String
        var box: Data
    }

    let current: (id: String, key: SymmetricKey)
    let previous: [String: SymmetricKey]

    /// `current` and `previous` are base64 32-byte keys.
    public init(current: String, previous: [String] = []) throws {
        func key(_ text: String) throws -> (String, SymmetricKey) {
            guard let data = Data(base64Encoded: text.trimmingCharacters(in: .whitespaces)), data.count == 32 else { throw InvalidKey() }
            return (Self.id(of: data), SymmetricKey(data: data))
        }
        self.current = try key(current)
        self.previous = Dictionary(try previous.map(key), uniquingKeysWith: { first, _ in first })
    }

    struct InvalidKey: Error {}

    /// A short public name of a KEK (stored beside what it sealed), not the key.
    public static func id(of key: Data) -> String {
        "kek-" + SHA256.hash(data: key).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    func seal(_ pem: String) throws -> Sealed {
        guard let combined = try AES.GCM.seal(Data(pem.utf8), using: current.key).combined else { throw SealingFailed() }
        return Sealed(kekID: current.id, box: combined)
    }

    func open(_ sealed: Sealed) throws -> String {
        guard let key = sealed.kekID == current.id ? current.key : previous[sealed.kekID] else {
            throw UnknownKEK(kekID: sealed.kekID)
        }
        return String(decoding: try AES.GCM.open(AES.GCM.SealedBox(combined: sealed.box), using: key), as: UTF8.self)
    }

    struct SealingFailed: Error {}

    /// A stored key sealed under a KEK this instance was not given.
    public struct UnknownKEK: Error, CustomStringConvertible {
        public let kekID: String
        public var description: String {
            "a signing key is sealed with key-encryption key \(kekID), which is neither identity.kek nor in identity.kek.previous"
        }
    }
}
