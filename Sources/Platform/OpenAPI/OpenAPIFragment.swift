/// The part of `/openapi.json` one module contributes: its paths (`"/v1/jobs": ["get": ...]`)
/// and the component schemas they refer to. Built with the helpers of `OpenAPI`; the platform
/// merges every module's fragment into one document and refuses two modules claiming the same
/// path or schema name.
public struct OpenAPIFragment {
    public var paths: [String: [String: Any]]
    public var schemas: [String: Any]
    /// Links from a response to the operations that take its values; a module may link from
    /// another module's operation to its own (a job's id is its conversation's key).
    public var links: [OpenAPILink]

    public init(paths: [String: [String: Any]] = [:], schemas: [String: Any] = [:], links: [OpenAPILink] = []) {
        self.paths = paths
        self.schemas = schemas
        self.links = links
    }

    /// Every "METHOD /path" of the fragment.
    public var operations: Set<String> {
        Set(paths.flatMap { path, methods in methods.keys.map { "\($0.uppercased()) \(path)" } })
    }
}

/// An OpenAPI link: a value of one operation's response that another operation takes as a
/// parameter, so that a client (and the fuzzer's stateful phase) can go from a created request to
/// its page, from a job to its conversation.
public struct OpenAPILink {
    /// "METHOD /path" whose response carries the value.
    public var from: String
    public var status: String
    public var name: String
    /// "METHOD /path" that takes it.
    public var to: String
    /// Parameter name → runtime expression, e.g. `["id": "$response.body#/id"]`.
    public var parameters: [String: String]

    public init(from: String, status: String = "200", name: String, to: String, parameters: [String: String]) {
        self.from = from
        self.status = status
        self.name = name
        self.to = to
        self.parameters = parameters
    }
}
