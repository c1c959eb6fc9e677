import Foundation

/// Builders for OpenAPI 3.1 fragments, so that each module's description reads like a table of
/// its operations. Every refusal is a problem+json document; `problems` documents the codes a
/// status stands for, so clients know what to switch on.
public enum OpenAPI {
    public static var string: [String: Any] { ["type": "string"] }
    /// A non-empty string: the server refuses empty ones.
    public static func text(maxLength: Int? = nil) -> [String: Any] {
        var schema: [String: Any] = ["type": "string", "minLength": 1]
        if let maxLength { schema["maxLength"] = maxLength }
        return schema
    }
    /// A name as the server takes it: 1 to `maxLength` characters, not only white space.
    public static func name(maxLength: Int = 100) -> [String: Any] {
        ["type": "string", "minLength": 1, "maxLength": maxLength, "pattern": "\\S"]
    }
    /// A category slug: lower-case letters, digits and '-', up to 64.
    public static var slug: [String: Any] { ["type": "string", "pattern": "^[a-z0-9][a-z0-9-]{0,63}$"] }
    /// A positive decimal amount ("42.50"), as money inputs require.
    public static var positiveAmount: [String: Any] {
        ["type": "string", "pattern": "^(0*[1-9][0-9]*(\\.[0-9]+)?|0+\\.[0-9]*[1-9][0-9]*)$", "description": "A positive decimal amount, e.g. \"42.50\""]
    }
    public static var integer: [String: Any] { ["type": "integer"] }
    public static var number: [String: Any] { ["type": "number"] }
    public static var boolean: [String: Any] { ["type": "boolean"] }
    public static var dateTime: [String: Any] { ["type": "string", "format": "date-time"] }
    public static var currency: [String: Any] { ["type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code, e.g. EUR"] }
    public static var amount: [String: Any] { ["type": "string", "pattern": "^[0-9]+(\\.[0-9]+)?$", "description": "A decimal amount, e.g. \"42.50\""] }
    /// `Money` as JSON carries it.
    public static var money: [String: Any] { object(["amount": amount, "currency": currency], required: ["amount", "currency"]) }

    public static func ref(_ name: String) -> [String: Any] { ["$ref": "#/components/schemas/\(name)"] }
    public static func array(_ items: [String: Any]) -> [String: Any] { ["type": "array", "items": items] }
    public static func enumeration(_ values: [String]) -> [String: Any] { ["type": "string", "enum": values] }

    /// An object of the properties listed, `required` among them. The others may also be null:
    /// the server reads an explicit null as absent.
    public static func object(_ properties: [String: Any], required: [String]) -> [String: Any] {
        var described = properties
        for (name, schema) in properties where !required.contains(name) {
            described[name] = nullable(schema as? [String: Any] ?? [:])
        }
        return ["type": "object", "properties": described, "required": required]
    }

    /// The schema, or null.
    public static func nullable(_ schema: [String: Any]) -> [String: Any] {
        if let type = schema["type"] as? String {
            var copy = schema
            copy["type"] = [type, "null"]
            if let values = copy["enum"] as? [Any] { copy["enum"] = values + [NSNull()] }
            return copy
        }
        return ["anyOf": [schema, ["type": "null"]]]
    }

    public static func body(_ schema: String) -> [String: Any] {
        ["required": true, "content": ["application/json": ["schema": ref(schema)]]]
    }

    public static func ok(_ schema: String, _ status: String = "200", _ description: String = "Success") -> [String: Any] {
        [status: ["description": description, "content": ["application/json": ["schema": ref(schema)]]]]
    }

    public static var noContent: [String: Any] { ["204": ["description": "Done"]] }
    public static var accepted: [String: Any] { ["202": ["description": "Accepted"]] }

    /// What each refusal status means, with the stable codes it carries.
    public static let problemDescriptions: [String: String] = [
        "400": "Malformed request (missing_field, invalid_field, malformed_json, invalid_parameter)",
        "401": "Not authenticated (unauthorized, invalid_token, invalid_credentials, invalid_refresh_token, refresh_token_reused)",
        "402": "Payment needed or refused (payment_method_required, payment_declined)",
        "403": "Not allowed (forbidden, account_suspended, not_assigned_provider, not_a_member)",
        "404": "Not found (not_found)",
        "405": "Method not allowed on this path (method_not_allowed); Allow lists the methods",
        "409": "Conflict with the current state (see the code, e.g. invalid_transition, conversation_closed)",
        "413": "Body too large (body_too_large)",
        "422": "A field is invalid (validation_failed, weak_password)",
        "429": "Too many attempts (too_many_attempts, rate_limited; Retry-After)",
        "503": "A dependency does not answer (storage_unavailable, payment_unavailable; Retry-After)",
    ]

    public static func problems(_ statuses: [String]) -> [String: Any] {
        var result: [String: Any] = [:]
        for status in statuses {
            result[status] = ["description": problemDescriptions[status] ?? "Error",
                              "content": ["application/problem+json": ["schema": ref("Problem")]]]
        }
        return result
    }

    public static func merge(_ parts: [String: Any]...) -> [String: Any] {
        parts.reduce(into: [:]) { result, part in result.merge(part) { first, _ in first } }
    }

    /// One operation. Every operation answers 401 to a token that is sent and not valid (secured
    /// ones also to no token); every operation that takes a body answers 400 for malformed JSON
    /// and 413 for an oversize body, so those are added here once.
    public static func operation(_ summary: String, tag: String, secured: Bool = false, requestBody: String? = nil,
                                 parameters: [[String: Any]] = [], responses: [String: Any]) -> [String: Any] {
        var statuses = ["401"]
        if requestBody != nil { statuses += ["400", "413"] }
        var operation: [String: Any] = ["summary": summary, "tags": [tag], "responses": merge(responses, problems(statuses))]
        if secured { operation["security"] = [["bearerAuth": [String]()]] }
        if let requestBody { operation["requestBody"] = body(requestBody) }
        if !parameters.isEmpty { operation["parameters"] = parameters }
        return operation
    }

    public static func query(_ name: String, _ schema: [String: Any], _ description: String, required: Bool = false) -> [String: Any] {
        ["name": name, "in": "query", "required": required, "schema": schema, "description": description]
    }

    public static func path(_ name: String) -> [String: Any] {
        ["name": name, "in": "path", "required": true, "schema": text()]
    }
    public static var idParameter: [String: Any] { path("id") }
    public static var slugParameter: [String: Any] { path("slug") }
}
