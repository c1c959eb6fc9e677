import Foundation
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP

/// `/v1/conversations`: my conversations, a conversation's messages (cursor by `seq`), sending,
/// the read cursor, attachment uploads.
public enum ChatRoutes {
    struct ReadRequest: Decodable { var upToSeq: Int }

    public static func register(on router: Router<AppRequestContext>, service: ChatService) {
        let conversations = router.group("/v1/conversations")
        conversations.get { request, context in
            let caller = try context.requireCaller()
            let page = try request.integerParameter("page", in: 1...10_000) ?? 1
            let limit = try request.integerParameter("limit", in: 1...100) ?? 20
            return try jsonResponse(try await service.myConversations(caller, page: page, limit: limit))
        }
        conversations.get("/{jobId}") { _, context in
            try jsonResponse(try await service.conversation(try context.requireCaller(), jobID: try context.parameters.require("jobId")))
        }
        conversations.get("/{jobId}/messages") { request, context in
            let caller = try context.requireCaller()
            let before = try request.integerParameter("before", in: 1...Int(Int32.max))
            let after = try request.integerParameter("after", in: 0...Int(Int32.max))
            let limit = try request.integerParameter("limit", in: 1...100) ?? 50
            return try jsonResponse(try await service.messages(caller, jobID: try context.parameters.require("jobId"), before: before, after: after, limit: limit))
        }
        conversations.post("/{jobId}/messages") { request, context in
            let caller = try context.requireCaller()
            let input = try await request.decodeJSON(ChatService.SendInput.self, context: context)
            let sent = try await service.send(caller, jobID: try context.parameters.require("jobId"), input, traceparent: request.traceparent)
            return try jsonResponse(sent.message, status: sent.created ? .created : .ok)
        }
        conversations.post("/{jobId}/read") { request, context in
            let caller = try context.requireCaller()
            let body = try await request.decodeJSON(ReadRequest.self, context: context)
            return try jsonResponse(try await service.markRead(caller, jobID: try context.parameters.require("jobId"), upToSeq: body.upToSeq,
                                                               traceparent: request.traceparent))
        }
        conversations.post("/{jobId}/attachments") { request, context in
            let caller = try context.requireCaller()
            let input = try await request.decodeJSON(ChatService.UploadInput.self, context: context)
            return try jsonResponse(try await service.createUpload(caller, jobID: try context.parameters.require("jobId"), input), status: .created)
        }
    }
}
