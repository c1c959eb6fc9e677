/// The part of `/openapi.json` one module contributes: its paths (`"/v1/jobs": ["get": ...]`)
/// and the component schemas they refer to. Built with the helpers of `OpenAPI`; the platform
/// merges every module's fragment into one document and refuses two modules claiming the same
/// path or schema name.
public struct OpenAPIFragment {
    public var paths: [String: [String: Any]]
    public var schemas: [String: Any]

    public init(paths: [String: [String: Any]] = [:], schemas: [String: Any] = [:]) {
        self.paths = paths
        self.schemas = schemas
    }

    /// Every "METHOD /path" of the fragment.
    public var operations: Set<String> {
        Set(paths.flatMap { path, methods in methods.keys.map { "\($0.uppercased()) \(path)" } })
    }
}
