import Foundation
import MarketplaceMongo

/// Registered devices (`notification_devices`), unique per token: a token registered again
/// (after a reinstall, or by whoever now uses the phone) is the same device, moved and enabled.
public struct DeviceRepository: Sendable {
    public static let collectionName = "notification_devices"
    let mongo: MongoClient

    public init(mongo: MongoClient) { self.mongo = mongo }

    var collection: MongoCollection<Device> { mongo.collection(Self.collectionName) }

    public func prepare() async throws {
        try await collection.createIndexes([
            MongoIndex(name: "token_unique", keys: ["token": 1], unique: true),
            MongoIndex(name: "user", keys: ["userId": 1]),
        ])
    }

    public func find(token: String) async throws -> Device? { try await collection.findOne(["token": .string(token)]) }

    public func devices(of userID: String) async throws -> [Device] {
        try await collection.find(["userId": .string(userID)], options: FindOptions(sort: ["createdAt": 1]))
    }

    public func enabledDevices(of userID: String) async throws -> [Device] {
        try await collection.find(["userId": .string(userID), "enabled": true])
    }

    /// Inserts or takes over the token's device; answers the stored device.
    public func upsert(_ device: Device) async throws -> Device {
        let encoded = try BSONEncoder().encode(device)
        var set = encoded
        set["_id"] = nil
        set["createdAt"] = nil
        set["disabledAt"] = nil
        _ = try await collection.updateOne(["token": .string(device.token)],
                                           ["$set": .document(set), "$setOnInsert": ["_id": .string(device._id), "createdAt": .date(device.createdAt)],
                                            "$unset": ["disabledAt": ""]], upsert: true)
        return try await find(token: device.token) ?? device
    }

    public func disable(_ id: String, at date: Date) async throws {
        _ = try await collection.updateOne(["_id": .string(id)], ["$set": ["enabled": false, "disabledAt": .date(date), "updatedAt": .date(date)]])
    }

    /// Deletes the user's device; false when it is not theirs.
    public func delete(_ id: String, userID: String) async throws -> Device? {
        guard let device = try await collection.findOne(["_id": .string(id), "userId": .string(userID)]) else { return nil }
        _ = try await collection.deleteOne(["_id": .string(id)])
        return device
    }

    public func deleteAll(userID: String) async throws -> [Device] {
        let owned = try await devices(of: userID)
        _ = try await collection.deleteMany(["userId": .string(userID)])
        return owned
    }
}
