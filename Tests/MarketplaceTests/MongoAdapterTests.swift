import Foundation
import MarketplaceMongo
import Testing

struct Address: Codable, Sendable, Equatable {
    var street: String
    var city: String
    var location: [Double]
}

/// Every type the platform stores.
struct EveryType: Codable, Sendable, Equatable {
    var _id: ObjectId
    var name: String
    var count: Int
    var small: Int32
    var ratio: Double
    var active: Bool
    var createdAt: Date
    var price: Decimal128
    var externalID: UUID
    var blob: Data
    var address: Address
    var tags: [String]
    var history: [Address]
    var nickname: String?
    var deletedAt: Date?
    var scores: [String: Int]
}

struct Counter: Codable, Sendable, Equatable {
    var _id: String
    var owner: String?
    var state: String
    var value: Int
}

@Suite("MongoDB adapter against SecantusDB", .timeLimit(.minutes(3)))
struct MongoAdapterTests {
    @Test("every stored type survives a round trip through the server")
    func bsonRoundTrip() async throws {
        let mongo = try TestServers.mongo()
        let collection = mongo.collection("everything", as: EveryType.self)
        let original = EveryType(
            _id: ObjectId(), name: "Zoë's plumbing ☂", count: 9_007_199_254_740_993, small: -42, ratio: 0.1 + 0.2,
            active: true, createdAt: Date(timeIntervalSince1970: 1_700_000_000.123), price: Decimal128("1234.56")!,
            externalID: UUID(), blob: Data([0, 1, 2, 255]),
            address: Address(street: "1 Main St", city: "Lisbon", location: [-9.14, 38.72]),
            tags: ["plumbing", "urgent"], history: [Address(street: "old", city: "Porto", location: [-8.6, 41.1])],
            nickname: nil, deletedAt: Date(timeIntervalSince1970: 0), scores: ["a": 1, "b": 2])
        try await collection.insert(original)
        let loaded = try #require(try await collection.findOne(["_id": .objectId(original._id)]))
        #expect(loaded == original)

        // The server stored real BSON types, not strings: query by them.
        let raw = try #require(try await mongo.collection("everything", as: BSONDocument.self).findOne([:]))
        #expect(raw["price"] == .decimal128(Decimal128("1234.56")!))
        #expect(raw["createdAt"] == .date(original.createdAt))
        if case .binary(let subtype, let bytes) = raw["externalID"] { #expect(subtype == 4 && bytes.count == 16) } else { Issue.record("UUID not binary") }
        #expect(raw["nickname"] == nil, "nil optionals are left out")
        #expect(try await collection.count(["createdAt": ["$gt": .date(Date(timeIntervalSince1970: 1_600_000_000))]]) == 1)
        #expect(Decimal128("1234.56")?.decimal == Decimal(string: "1234.56"))
        #expect(Decimal128("abc") == nil)
    }

    @Test("datetimes keep their milliseconds; one beyond ±2^48 ms is written as the bound, not trapped on")
    func datetimeBounds() async throws {
        let mongo = try TestServers.mongo()
        let collection = mongo.collection("datetimes", as: BSONDocument.self)
        let ordinary = Date(timeIntervalSince1970: 1_764_547_200.123)
        try await collection.insert(["_id": "d", "ordinary": .date(ordinary), "future": .date(.distantFuture),
                                     "epoch": .date(Date(timeIntervalSince1970: 0)), "early": .date(Date(timeIntervalSince1970: -2_208_988_800.5))])
        let stored = try #require(try await collection.findOne(["_id": "d"]))
        #expect(stored["ordinary"] == .date(ordinary))
        #expect(stored["future"] == .date(.distantFuture))
        #expect(stored["early"] == .date(Date(timeIntervalSince1970: -2_208_988_800.5)))
        // Stable: what was read writes back to the same value.
        #expect(try await collection.deleteOne(["_id": "d"]) == 1)
        try await collection.insert(stored)
        #expect(try await collection.findOne(["_id": "d"]) == stored)

        // Far dates (year 143,000; ±∞; NaN) are written as the bound (year 10889 or 6980 BC)
        // instead of trapping in Int64(Double). SecantusDB, whose dates are Python's, refuses years
        // after 9999 with a typed error; MongoDB stores the bound and reads it back as written.
        let bound = Date(timeIntervalSince1970: Double(1 << 48) / 1000)
        for (name, far, expected) in [("far", Date(timeIntervalSince1970: 4_460_000_000_000), bound),
                                      ("infinite", Date(timeIntervalSince1970: .infinity), bound),
                                      ("nan", Date(timeIntervalSince1970: .nan), Date(timeIntervalSince1970: 0))] {
            do {
                try await collection.insert(["_id": .string(name), "at": .date(far)])
                #expect(try await collection.findOne(["_id": .string(name)])?["at"] == .date(expected), "\(name)")
            } catch let error as MongoError {
                #expect(expected != Date(timeIntervalSince1970: 0), "\(name): \(error)")
            }
        }
    }

    @Test("a unique-index violation is a typed conflict")
    func duplicateKeyIsConflict() async throws {
        let mongo = try TestServers.mongo()
        let users = mongo.collection("users", as: BSONDocument.self)
        try await users.createIndexes([MongoIndex(name: "email_unique", keys: ["email": 1], unique: true)])
        try await users.insert(["email": "a@example.com"])
        do {
            try await users.insert(["email": "a@example.com"])
            Issue.record("second insert should conflict")
        } catch let error as MongoError {
            #expect(error.isDuplicateKey, "got \(error)")
        }
        #expect(try await users.count() == 1)
    }

    @Test("findOneAndUpdate as compare-and-set: of 100 concurrent tasks exactly one wins")
    func compareAndSetHasOneWinner() async throws {
        let mongo = try TestServers.mongo()
        let offers = mongo.collection("offers", as: Counter.self)
        try await offers.insert(Counter(_id: "offer-1", owner: nil, state: "open", value: 0))
        let winners = try await withThrowingTaskGroup(of: String?.self) { group in
            for task in 0..<100 {
                group.addTask {
                    try await offers.findOneAndUpdate(["_id": "offer-1", "state": "open"],
                                                      ["$set": ["state": "accepted", "owner": .string("p\(task)")]])?.owner
                }
            }
            var winners: [String] = []
            for try await winner in group { if let winner { winners.append(winner) } }
            return winners
        }
        #expect(winners.count == 1)
        let final = try #require(try await offers.findOne(["_id": "offer-1"]))
        #expect(final.state == "accepted" && final.owner == winners.first)
    }

    @Test("find with filter, sort, skip, limit and projection; update operators; delete; count; aggregate")
    func queryAndUpdate() async throws {
        let mongo = try TestServers.mongo()
        let items = mongo.collection("items", as: Counter.self)
        try await items.insert((0..<20).map { Counter(_id: String(format: "i%02d", $0), owner: $0 % 2 == 0 ? "even" : "odd", state: "new", value: $0) })

        let page = try await items.find(["owner": "even"], options: FindOptions(sort: ["value": -1], skip: 2, limit: 3))
        #expect(page.map(\.value) == [14, 12, 10])

        let projected = try await mongo.collection("items", as: BSONDocument.self)
            .find(["_id": "i03"], options: FindOptions(projection: ["value": 1]))
        #expect(projected.first?.keys.sorted() == ["_id", "value"])

        let updated = try await items.updateMany(["owner": "odd"], ["$inc": ["value": 100], "$set": ["state": "bumped"]])
        #expect(updated.matched == 10 && updated.modified == 10)
        #expect(try await items.count(["value": ["$gte": 100]]) == 10)

        let upserted = try await items.updateOne(["_id": "new-one"], ["$setOnInsert": ["state": "fresh", "value": 1]], upsert: true)
        #expect(upserted.upsertedID == .string("new-one"))

        #expect(try await items.deleteMany(["state": "bumped"]) == 10)
        #expect(try await items.count() == 11)

        let totals = try await items.aggregate([
            ["$match": ["owner": "even"]],
            ["$group": ["_id": "$owner", "total": ["$sum": "$value"]]],
        ])
        #expect(totals.first?["total"]?.intValue == (0..<20).filter { $0 % 2 == 0 }.reduce(0, +))
    }

    @Test("a streaming cursor returns every document in order, batch by batch")
    func streamingCursor() async throws {
        let mongo = try TestServers.mongo()
        let items = mongo.collection("stream", as: Counter.self)
        try await items.insert((0..<50).map { Counter(_id: String(format: "s%03d", $0), state: "x", value: $0) })
        var values: [Int] = []
        for try await item in items.stream([:], options: FindOptions(sort: ["value": 1], batchSize: 7)) {
            values.append(item.value)
        }
        #expect(values == Array(0..<50))
    }

    @Test("a transaction commits all its writes, or none when it throws")
    func transactions() async throws {
        let mongo = try TestServers.mongo()
        let accounts = mongo.collection("accounts", as: Counter.self)
        try await accounts.insert(Counter(_id: "a", state: "open", value: 100))
        try await accounts.insert(Counter(_id: "b", state: "open", value: 0))

        try await mongo.withTransaction { session in
            let collection = session.collection("accounts", as: Counter.self)
            try collection.updateOne(["_id": "a"], ["$inc": ["value": -30]])
            try collection.updateOne(["_id": "b"], ["$inc": ["value": 30]])
        }
        #expect(try await accounts.findOne(["_id": "a"])?.value == 70)

        struct Refused: Error {}
        await #expect(throws: Refused.self) {
            try await mongo.withTransaction { session in
                try session.collection("accounts", as: Counter.self).updateOne(["_id": "a"], ["$inc": ["value": -70]])
                throw Refused()
            }
        }
        #expect(try await accounts.findOne(["_id": "a"])?.value == 70)
        #expect(try await accounts.findOne(["_id": "b"])?.value == 30)
    }

    @Test("concurrent transactions on one document all commit: write conflicts are retried")
    func conflictingTransactionsRetry() async throws {
        let mongo = try TestServers.mongo()
        let counters = mongo.collection("counters", as: Counter.self)
        try await counters.insert(Counter(_id: "c", state: "open", value: 0))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await mongo.withTransaction(maxAttempts: 50) { session in
                        let collection = session.collection("counters", as: Counter.self)
                        let current = try collection.find(["_id": "c"]).first!.value
                        try collection.updateOne(["_id": "c"], ["$set": ["value": .int64(Int64(current + 1))]])
                    }
                }
            }
            try await group.waitForAll()
        }
        // Every read-modify-write applied exactly once: no lost update, no failed transaction.
        #expect(try await counters.findOne(["_id": "c"])?.value == 20)
    }

    @Test("an unreachable server is a typed error, not a crash")
    func unreachableServer() async throws {
        let mongo = try MongoClient(configuration: MongoConfiguration(
            uri: "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=300&connectTimeoutMS=300", database: "x", poolSize: 1))
        await #expect(throws: MongoError.self) { try await mongo.ping() }
        await mongo.shutdown()
        await #expect(throws: MongoError.closed) { try await mongo.ping() }
    }

    @Test("a malformed URI is refused at start")
    func malformedURI() {
        #expect(throws: MongoError.self) { _ = try MongoClient(configuration: MongoConfiguration(uri: "mongodb://", database: "x")) }
    }
}
