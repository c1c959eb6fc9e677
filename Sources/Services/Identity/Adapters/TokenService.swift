import Foundation
import JWTKit
import MarketplaceContracts
import MarketplaceHTTP
import MarketplaceMongo

/// The claims of an access token.
struct AccessClaims: JWTPayload {
    var sub: SubjectClaim
    var role: String
    var sid: String
    var iss: IssuerClaim
    var aud: AudienceClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        try aud.verifyIntendedAudience(includes: TokenService.audience)
    }
}

/// A signing key as stored in MongoDB, shared by every instance of the service: sealed under the
/// key-encryption key (`sealedKey`, `kekID`), or in plain PEM where none is configured (a
/// development setup; such keys are sealed as soon as an instance with a KEK loads them).
struct SigningKeyDocument: Codable, Sendable {
    var _id: String  // kid
    var privateKeyPEM: String?
    var sealedKey: Data?
    var kekID: String?
    var createdAt: Date
    /// After this the key no longer signs; it still verifies until `verifyUntil`.
    var retireAt: Date
    var verifyUntil: Date
}

/// Issues and verifies ES256 access tokens. Keys live in MongoDB so that every instance signs
/// and verifies with the same set; the newest active key signs, retired keys verify until the
/// last token they signed has expired. An unknown `kid` makes the service reload the keys once.
public actor TokenService {
    public static let issuer = "marketplace-identity"
    public static let audience = "marketplace"

    let keysCollection: MongoCollection<SigningKeyDocument>
    let vault: SigningKeyVault?
    let accessTokenLifetime: TimeInterval
    let keyLifetime: TimeInterval
    private var keys = JWTKeyCollection()
    private var current: SigningKeyDocument?
    private var lastReload = Date.distantPast
    /// Built at each reload: parsing PEM keys per JWKS request would be waste.
    private var published = JWKSDocument(keys: [])

    public init(mongo: MongoClient, accessTokenLifetime: TimeInterval = 15 * 60, keyLifetime: TimeInterval = 30 * 86_400,
                vault: SigningKeyVault? = nil) {
        keysCollection = mongo.collection("signing_keys", as: SigningKeyDocument.self)
        self.vault = vault
        self.accessTokenLifetime = accessTokenLifetime
        self.keyLifetime = keyLifetime
    }

    public var lifetime: Int { Int(accessTokenLifetime) }

    /// Loads the keys, creating the first one (or the next one, when the newest is retiring).
    public func prepare() async throws {
        try await reload()
        if current == nil {
            let now = Date()
            let key = ES256PrivateKey()
            var document = SigningKeyDocument(_id: "es256-\(UUID().uuidString.prefix(8).lowercased())", privateKeyPEM: key.pemRepresentation,
                                              createdAt: now, retireAt: now.addingTimeInterval(keyLifetime),
                                              verifyUntil: now.addingTimeInterval(keyLifetime + accessTokenLifetime + 60))
            if let vault {
                let sealed = try vault.seal(key.pemRepresentation)
                (document.privateKeyPEM, document.sealedKey, document.kekID) = (nil, sealed.box, sealed.kekID)
            }
            try await keysCollection.insert(document)
            try await reload()
        }
    }

    /// Retires the current key now (it keeps verifying) and creates a new signing key.
    public func rotate() async throws {
        if let current {
            try await keysCollection.updateOne(["_id": .string(current._id)], ["$set": ["retireAt": .date(Date())]])
        }
        self.current = nil
        try await prepare()
    }

    private func reload() async throws {
        let now = Date()
        let documents = try await keysCollection.find(["verifyUntil": ["$gt": .date(now)]], options: FindOptions(sort: ["createdAt": -1]))
        let collection = JWTKeyCollection()
        var publicKeys: [JWKSDocument.Key] = []
        for document in documents {
            let key = try ES256PrivateKey(pem: try await privateKeyPEM(of: document))
            await collection.add(ecdsa: key, kid: JWKIdentifier(string: document._id))
            if let parameters = key.publicKey.parameters {
                publicKeys.append(JWKSDocument.Key(kty: "EC", crv: "P-256", alg: "ES256", use: "sig", kid: document._id, x: parameters.x, y: parameters.y))
            }
        }
        keys = collection
        published = JWKSDocument(keys: publicKeys)
        current = documents.first { $0.retireAt > now }
        lastReload = now
    }

    /// The key's PEM, opened with the vault. A key stored in plain PEM, or sealed under a
    /// previous KEK, is sealed again under the current one (a compare-and-set on what was stored,
    /// so two instances doing it at once agree).
    private func privateKeyPEM(of document: SigningKeyDocument) async throws -> String {
        let pem: String
        if let box = document.sealedKey, let kekID = document.kekID {
            guard let vault else { throw SigningKeyVault.UnknownKEK(kekID: kekID) }
            pem = try vault.open(.init(kekID: kekID, box: box))
            guard kekID != vault.current.id else { return pem }
        } else if let plain = document.privateKeyPEM {
            pem = plain
            guard vault != nil else { return pem }
        } else {
            throw MongoError.decoding("signing key \(document._id) has neither a sealed nor a plain key")
        }
        if let vault {
            let sealed = try vault.seal(pem)
            let was: BSONValue = document.kekID.map { .string($0) } ?? .null
            _ = try await keysCollection.updateOne(["_id": .string(document._id), "kekID": was],
                                                   ["$set": ["sealedKey": .binary(subtype: 0, Array(sealed.box)), "kekID": .string(sealed.kekID)],
                                                    "$unset": ["privateKeyPEM": ""]])
        }
        return pem
    }

    func issue(userID: String, role: Role, sessionID: String) async throws -> String {
        if current == nil || current!.retireAt <= Date() { try await prepare() }
        let now = Date()
        let claims = AccessClaims(sub: .init(value: userID), role: role.rawValue, sid: sessionID, iss: .init(value: Self.issuer),
                                  aud: .init(value: [Self.audience]), iat: .init(value: now),
                                  exp: .init(value: now.addingTimeInterval(accessTokenLifetime)))
        return try await keys.sign(claims, kid: JWKIdentifier(string: current!._id))
    }

    /// Verifies signature, algorithm, kid, audience, issuer and expiry; 401 problems otherwise.
    func verify(_ token: String) async throws -> AccessClaims {
        // A verifying-only instance (a realtime gateway node) never ran prepare(): load once.
        if lastReload == .distantPast { try await reload() }
        do {
            return try await verifyOnce(token)
        } catch let error as JWTError where error.errorType == .unknownKID && Date().timeIntervalSince(lastReload) > 1 {
            try await reload()  // a key created by another instance
            return try await verifyOnce(token)
        }
    }

    private func verifyOnce(_ token: String) async throws -> AccessClaims {
        let claims: AccessClaims
        do {
            claims = try await keys.verify(token, as: AccessClaims.self)
        } catch let error as JWTError {
            if error.errorType == .unknownKID { throw error }
            throw DomainError.invalidToken(Self.describe(error))
        } catch {
            throw DomainError.invalidToken("malformed token")
        }
        guard claims.iss.value == Self.issuer else { throw DomainError.invalidToken("wrong issuer") }
        return claims
    }

    static func describe(_ error: JWTError) -> String {
        switch error.errorType {
        case .claimVerificationFailure: "expired or not meant for this audience"
        case .signatureVerificationFailed: "bad signature"
        case .unknownKID: "unknown key id"
        case .malformedToken: "malformed token"
        default: "invalid token"
        }
    }

    /// The public keys, as a JWKS document.
    public func jwks() -> JWKSDocument { published }
}

public struct JWKSDocument: Codable, Sendable {
    public struct Key: Codable, Sendable {
        public var kty: String
        public var crv: String
        public var alg: String
        public var use: String
        public var kid: String
        public var x: String
        public var y: String
    }
    public var keys: [Key]
}
