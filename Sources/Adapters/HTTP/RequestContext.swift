import Foundation
import Hummingbird
import MarketplaceContracts
import NIOCore

/// The request context of every service.
public struct AppRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var caller: Caller?
    /// The peer's address (login throttling per client address).
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        caller = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// Bodies larger than this are refused with 413 before decoding.
    public var maxUploadSize: Int { 64 * 1024 }

    /// The authenticated caller, or 401.
    public func requireCaller() throws -> Caller {
        guard let caller else { throw DomainError.unauthorized }
        return caller
    }

    /// The caller, if it has one of `roles`; 403 otherwise.
    public func requireRole(_ roles: Role...) throws -> Caller {
        let caller = try requireCaller()
        guard roles.contains(caller.role) else { throw DomainError.forbidden }
        return caller
    }
}

extension Request {
    /// An integer query parameter within `range`; nil when absent, 400 `invalid_parameter` naming
    /// it when it is not an integer in the range.
    public func integerParameter(_ name: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let text = uri.queryParameters.get(name) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            throw DomainError.invalidParameter(name, "an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    /// The W3C trace context of the call, when the client sent a well-formed one.
    public var traceparent: String? {
        headers.first { $0.name.canonicalName == "traceparent" }.map(\.value).flatMap { TraceParent($0)?.description }
    }

    /// Decodes a JSON body; malformed JSON, wrong types, missing fields and oversize bodies become
    /// 4xx problems that name what was wrong.
    public func decodeJSON<T: Decodable>(_ type: T.Type, context: AppRequestContext) async throws -> T {
        try await decodeJSON(type, context: context, decoder: JSONDecoder())
    }

    /// The same, reading dates as ISO 8601 strings ("2026-11-23T09:00:00Z").
    public func decodeJSONDatesISO8601<T: Decodable>(_ type: T.Type, context: AppRequestContext) async throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try await decodeJSON(type, context: context, decoder: decoder)
    }

    func decodeJSON<T: Decodable>(_ type: T.Type, context: AppRequestContext, decoder: JSONDecoder) async throws -> T {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: context.maxUploadSize)
        } catch {
            throw Problem(status: .contentTooLarge, code: "body_too_large", title: "The body is too large",
                          detail: "at most \(context.maxUploadSize) bytes")
        }
        do {
            return try decoder.decode(T.self, from: buffer)
        } catch DecodingError.keyNotFound(let key, let context) {
            throw DomainError.badRequest("missing_field", "missing field '\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))'")
        } catch DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context) {
            throw DomainError.badRequest("invalid_field", "field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type")
        } catch DecodingError.dataCorrupted(let context)
                    where !context.codingPath.isEmpty || (try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: .fragmentsAllowed)) != nil {
            // Well-formed JSON with a value that does not parse (a date, a decimal).
            let field = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw DomainError.badRequest("invalid_field", field.isEmpty ? context.debugDescription : "field '\(field)': \(context.debugDescription)")
        } catch {
            throw DomainError.badRequest("malformed_json", "the body is not valid JSON")
        }
    }
}

/// Encodes a value as a JSON response with a status.
public func jsonResponse<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
    let encoder = JSONEncoder()
    encoder.dateEncodingStrategy = .iso8601
    encoder.outputFormatting = .sortedKeys
    return Response(status: status, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(value))))
}
