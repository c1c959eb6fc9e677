import Foundation

/// The OpenAPI 3.1 description of one process's HTTP API, served at `/openapi.json`: the
/// platform's own paths (health, metrics, this document) and the `Problem` schema, merged with
/// each module's fragment. A test compares its operations with the router's routes, so a route
/// cannot be added or removed without its description.
public struct OpenAPIDocument {
    public let fragments: [(module: String, fragment: OpenAPIFragment)]

    public init(modules: [any ServiceModule.Type]) {
        fragments = [("platform", Self.platform)] + modules.map { ($0.name, $0.openAPI) }
    }

    /// The platform's part: every process serves these.
    static var platform: OpenAPIFragment {
        let o = OpenAPI.self
        return OpenAPIFragment(paths: [
            "/health/live": ["get": o.operation("The process runs", tag: "health", responses: ["200": ["description": "Live"]])],
            "/health/ready": ["get": o.operation("Kafka, MongoDB, Redis and the modules' own checks answer", tag: "health",
                                                 responses: o.merge(o.ok("Readiness"), ["503": ["description": "A dependency does not answer",
                                                                                                "content": ["application/json": ["schema": o.ref("Readiness")]]]]))],
            "/metrics": ["get": o.operation("Prometheus metrics", tag: "health",
                                            responses: ["200": ["description": "Text format 0.0.4", "content": ["text/plain": ["schema": o.string]]]])],
            "/openapi.json": ["get": o.operation("This document", tag: "health", responses: ["200": ["description": "OpenAPI 3.1"]])],
        ], schemas: [
            "Problem": o.object(["type": o.string, "title": o.string, "status": o.integer, "code": o.string, "detail": o.string,
                                 "retryAfter": o.integer], required: ["type", "title", "status", "code"]),
            "Readiness": o.object(["status": o.string, "checks": ["type": "object", "additionalProperties": o.string]], required: ["status", "checks"]),
        ])
    }

    /// The merged document; two modules claiming one path or schema name, or a link between
    /// operations that are not there, is a programming error. Every operation gets an
    /// `operationId` made of its method and path (`GET /v1/requests/{id}` → `getV1RequestsId`).
    public func document() -> [String: Any] {
        var paths: [String: [String: Any]] = [:]
        var schemas: [String: Any] = [:]
        var owners: [String: String] = [:]
        var operationIDs: [String: String] = [:]
        for (module, fragment) in fragments {
            for (path, methods) in fragment.paths {
                precondition(paths[path] == nil, "OpenAPI path \(path) declared by \(module) and \(owners["path " + path] ?? "?")")
                var described = methods
                for (method, operation) in methods {
                    guard var operation = operation as? [String: Any] else { continue }
                    let id = Self.operationID(method: method, path: path)
                    precondition(!operationIDs.values.contains(id), "OpenAPI operationId \(id) made twice")
                    operationIDs["\(method.uppercased()) \(path)"] = id
                    operation["operationId"] = id
                    described[method] = operation
                }
                paths[path] = described
                owners["path " + path] = module
            }
            for (name, schema) in fragment.schemas {
                precondition(schemas[name] == nil, "OpenAPI schema \(name) declared by \(module) and \(owners["schema " + name] ?? "?")")
                schemas[name] = schema
                owners["schema " + name] = module
            }
        }
        for link in fragments.flatMap(\.fragment.links) {
            guard let target = operationIDs[link.to] else { preconditionFailure("OpenAPI link \(link.name) to \(link.to): no such operation") }
            let parts = link.from.split(separator: " ", maxSplits: 1).map(String.init)
            guard parts.count == 2, var operation = paths[parts[1]]?[parts[0].lowercased()] as? [String: Any],
                  var responses = operation["responses"] as? [String: Any], var response = responses[link.status] as? [String: Any]
            else { preconditionFailure("OpenAPI link \(link.name) from \(link.from) \(link.status): no such response") }
            var links = response["links"] as? [String: Any] ?? [:]
            links[link.name] = ["operationId": target, "parameters": link.parameters]
            response["links"] = links
            responses[link.status] = response
            operation["responses"] = responses
            paths[parts[1]]?[parts[0].lowercased()] = operation
        }
        return [
            "openapi": "3.1.0",
            "info": ["title": "Marketplace API", "version": "1.0.0",
                     "description": "Errors are application/problem+json documents with a stable `code`."],
            "paths": paths,
            "components": ["schemas": schemas,
                           "securitySchemes": ["bearerAuth": ["type": "http", "scheme": "bearer", "bearerFormat": "JWT (ES256)"]]],
        ]
    }

    /// `get` and `/v1/requests/{id}/cancel` → `getV1RequestsIdCancel`.
    static func operationID(method: String, path: String) -> String {
        let words = path.split { !$0.isLetter && !$0.isNumber }.map { $0.prefix(1).uppercased() + $0.dropFirst() }
        return method.lowercased() + words.joined()
    }

    public func json() -> Data {
        try! JSONSerialization.data(withJSONObject: document(), options: [.sortedKeys, .prettyPrinted])
    }

    /// Every "METHOD /path" the document describes.
    public var operations: Set<String> {
        fragments.reduce(into: Set<String>()) { $0.formUnion($1.fragment.operations) }
    }

    /// The methods the document declares per path (405 answers list them in `Allow`).
    public var methodsByPath: [String: [String]] {
        Self.methods(fragments.map(\.fragment))
    }

    /// The platform's own paths: what a worker process serves.
    static var platformMethodsByPath: [String: [String]] { methods([platform]) }

    static func methods(_ fragments: [OpenAPIFragment]) -> [String: [String]] {
        var result: [String: [String]] = [:]
        for fragment in fragments {
            for (path, methods) in fragment.paths { result[path, default: []] += methods.keys.map { $0.uppercased() } }
        }
        return result.mapValues { $0.sorted() }
    }
}
