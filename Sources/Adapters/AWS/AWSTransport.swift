import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// One signed HTTP exchange with an AWS API, shared by every client of this module (S3, SNS):
/// SigV4 over the exact bytes sent, a timeout, and no answer turned into a transient `AWSError`.
struct AWSTransport: Sendable {
    struct Response { var status: Int; var headers: HTTPHeaders; var body: String }

    let signer: SigV4Signer
    let http: HTTPClient
    let timeout: Duration

    func send(_ method: String, _ url: URL, body: [UInt8] = [], headers: [String: String] = [:]) async throws -> Response {
        var signed = headers
        signed["host"] = Self.hostHeader(url)
        let auth = signer.signatureHeaders(method: method, url: url, headers: signed, payloadHash: SigV4Signer.payloadHash(body))
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = HTTPMethod(rawValue: method)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        for (name, value) in auth { request.headers.add(name: name, value: value) }
        if !body.isEmpty { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await http.execute(request, timeout: TimeAmount(timeout))
            let bytes = method == "HEAD" ? ByteBuffer() : try await response.body.collect(upTo: 1 << 20)
            return Response(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
        } catch let error as AWSError {
            throw error
        } catch {
            throw AWSError(status: 0, code: "NetworkError", message: "\(method) \(url.path): \(error)")
        }
    }

    static func hostHeader(_ url: URL) -> String {
        let host = url.host ?? ""
        guard let port = url.port else { return host }
        if (url.scheme == "http" && port == 80) || (url.scheme == "https" && port == 443) { return host }
        return "\(host):\(port)"
    }
}
