import Foundation
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP

/// The web dashboard (`/dashboard/`): static HTML, CSS and JavaScript from the module's
/// `Dashboard` folder, read once at start and served from memory — the page signs in with the
/// API and reads the analytics endpoints itself.
public struct DashboardAssets: Sendable {
    struct Asset: Sendable {
        var bytes: [UInt8]
        var contentType: String
    }

    let assets: [String: Asset]

    static let contentTypes = ["html": "text/html; charset=utf-8", "css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8",
                               "svg": "image/svg+xml", "png": "image/png", "ico": "image/x-icon"]

    /// The files shipped with the module (a deployment copies the resource bundle beside the binary).
    public static func bundled() throws -> DashboardAssets {
        guard let folder = Bundle.module.url(forResource: "Dashboard", withExtension: nil) else {
            throw DomainError(kind: .unavailable, code: "dashboard_missing", title: "The dashboard's files are not beside the binary")
        }
        return try DashboardAssets(folder: folder)
    }

    public init(folder: URL) throws {
        var assets: [String: Asset] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
            guard let type = Self.contentTypes[(name as NSString).pathExtension] else { continue }
            assets[name] = Asset(bytes: Array(try Data(contentsOf: folder.appendingPathComponent(name))), contentType: type)
        }
        self.assets = assets
    }

    public var names: [String] { assets.keys.sorted() }

    /// The page runs only its own files: scripts, styles and requests to this origin.
    static let headers: HTTPFields = [
        .cacheControl: "no-cache",
        .init("Content-Security-Policy")!: "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        .init("X-Content-Type-Options")!: "nosniff",
        .init("Referrer-Policy")!: "no-referrer",
    ]

    func response(_ name: String) throws -> Response {
        guard let asset = assets[name] else { throw DomainError.notFound("dashboard file") }
        var headers = Self.headers
        headers[.contentType] = asset.contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: asset.bytes)))
    }
}

public enum DashboardRoutes {
    public static func register(on router: Router<AppRequestContext>, assets: DashboardAssets) {
        // `/dashboard` and `/dashboard/` alike (the page names its files by absolute path).
        router.get("/dashboard") { _, _ in try assets.response("index.html") }
        router.get("/dashboard/{asset}") { _, context in
            try assets.response(try context.parameters.require("asset"))
        }
    }
}
