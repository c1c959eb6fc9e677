import Hummingbird
import MarketplaceHTTP

/// A known path asked with a method it does not have answers 405 with `Allow` (RFC 9110 §15.5.6),
/// not 404: the router only knows "no route", so the documented paths (which a test keeps equal
/// to the routes) tell which methods exist. Sits inside `ProblemMiddleware`, which renders the
/// answer as problem+json, and before authentication.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    struct Route: Sendable {
        /// Literal segments, nil for a `{capture}`.
        var segments: [String?]
        var methods: [String]
    }

    /// By number of segments: a request is compared with the few paths of its length only (this
    /// runs on every request).
    let routes: [Int: [Route]]

    init(methodsByPath: [String: [String]]) {
        // Exactly the documented methods (the router serves no implicit HEAD).
        let all = methodsByPath.map { path, methods in
            Route(segments: path.split(separator: "/").map { $0.hasPrefix("{") ? nil : String($0) }, methods: methods.sorted())
        }
        routes = Dictionary(grouping: all, by: \.segments.count)
    }

    /// The methods of every documented path the request's path fits; nil when it fits none.
    func allowedMethods(for path: String) -> [String]? {
        let segments = path.split(separator: "/")
        let matching = (routes[segments.count] ?? []).filter { route in
            zip(route.segments, segments).allSatisfy { $0 == nil || $0! == $1 }
        }
        return matching.isEmpty ? nil : Set(matching.flatMap(\.methods)).sorted()
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // Decided before authentication and routing: a wrong method is wrong whoever asks.
        if let allowed = allowedMethods(for: request.uri.path), !allowed.contains(request.method.rawValue) {
            var problem = Problem(status: .methodNotAllowed, code: "method_not_allowed", title: "Method not allowed",
                                  detail: "\(request.method.rawValue) is not allowed here; allowed: \(allowed.joined(separator: ", "))")
            problem.allow = allowed
            throw problem
        }
        return try await next(request, context)
    }
}
