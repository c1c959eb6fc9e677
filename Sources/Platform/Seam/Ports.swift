import Synchronization

/// The ports modules provide to each other, by protocol: Identity provides the
/// `AccessTokenVerifier`, Dispatch the `JobAccessDirectory`. A module depends on the protocol
/// (in Contracts), never on the module that implements it.
public final class Ports: Sendable {
    private let entries = Mutex<[ObjectIdentifier: (provider: String, value: any Sendable)]>([:])

    public init() {}

    /// Offers `value` as the implementation of `port` (e.g. `(any AccessTokenVerifier).self`).
    public func provide<Port: Sendable>(_ port: Port.Type, _ value: Port, by module: String) {
        entries.withLock { $0[ObjectIdentifier(port)] = (module, value) }
    }

    /// The implementation of `port`; fails naming the port when no earlier module provides it.
    public func require<Port: Sendable>(_ port: Port.Type, by module: String) throws -> Port {
        guard let entry = entries.withLock({ $0[ObjectIdentifier(port)] }), let value = entry.value as? Port else {
            throw MissingPort(port: "\(port)", module: module)
        }
        return value
    }

    public func optional<Port: Sendable>(_ port: Port.Type) -> Port? {
        entries.withLock { $0[ObjectIdentifier(port)] }?.value as? Port
    }
}

/// A module needs a port that no module before it in the list provides.
public struct MissingPort: Error, CustomStringConvertible {
    public let port: String
    public let module: String
    public var description: String { "module \(module) needs \(port), which no module before it in the composition provides" }
}
