import Foundation
import Mustache

/// The notification templates (`Templates/<locale>/<kind>.<part>.mustache`, shipped as the
/// module's resources) rendered with swift-mustache. Parts: `title` and `body` (in-app and
/// push), `sms`, and `subject`, `text` and `html` (e-mail; only `html` escapes values).
/// A locale without a template for a part falls back to English.
public struct TemplateRenderer: Sendable {
    public enum Part: String, Sendable, CaseIterable { case title, body, sms, subject, text, html }

    let library: MustacheLibrary

    public init(directory: String) async throws {
        library = try await MustacheLibrary(directory: directory.hasSuffix("/") ? directory : directory + "/")
    }

    /// The templates shipped with the module.
    public static func bundled() async throws -> TemplateRenderer {
        guard let url = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            throw TemplateError.missing("the bundled Templates directory")
        }
        return try await TemplateRenderer(directory: url.path)
    }

    public func has(_ kind: NotificationKind, _ part: Part, locale: String) -> Bool {
        library.getTemplate(named: Self.name(kind, part, locale)) != nil || library.getTemplate(named: Self.name(kind, part, "en")) != nil
    }

    public func render(_ kind: NotificationKind, _ part: Part, locale: String, values: [String: String]) throws -> String {
        let name = library.getTemplate(named: Self.name(kind, part, locale)) != nil ? Self.name(kind, part, locale) : Self.name(kind, part, "en")
        guard let text = library.render(values as [String: Any], withTemplate: name) else { throw TemplateError.missing(name) }
        return text
    }

    static func name(_ kind: NotificationKind, _ part: Part, _ locale: String) -> String { "\(locale)/\(kind.rawValue).\(part.rawValue)" }
}

public enum TemplateError: Error, CustomStringConvertible {
    case missing(String)
    public var description: String {
        switch self { case .missing(let name): "no notification template \(name)" }
    }
}
