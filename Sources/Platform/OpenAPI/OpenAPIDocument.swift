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

    /// The merged document; two modules claiming one path or schema name is a programming error.
    public func document() -> [String: Any] {
        var paths: [String: Any] = [:]
        var schemas: [String: Any] = [:]
        var owners: [String: String] = [:]
        for (module, fragment) in fragments {
            for (path, methods) in fragment.paths {
                precondition(paths[path] == nil, "OpenAPI path \(path) declared by \(module) and \(owners["path " + path] ?? "?")")
                paths[path] = methods
                owners["path " + path] = module
            }
            for (name, schema) in fragment.schemas {
                precondition(schemas[name] == nil, "OpenAPI schema \(name) declared by \(module) and \(owners["schema " + name] ?? "?")")
                schemas[name] = schema
                owners["schema " + name] = module
            }
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
