import MarketplaceContracts
import MarketplacePlatform

/// The chat paths and schemas of `/openapi.json`: what ChatRoutes accept and answer.
enum ChatOpenAPI {
    static var fragment: OpenAPIFragment { OpenAPI.chat }
}

extension OpenAPI {
    fileprivate static var chat: OpenAPIFragment {
        let jobId = path("jobId")
        let seq: [String: Any] = ["type": "integer", "minimum": 0]
        let paths: [String: [String: Any]] = [
            "/v1/conversations": ["get": operation("My job conversations, newest activity first, with unread counts", tag: "chat", secured: true, parameters: [
                query("page", ["type": "integer", "minimum": 1, "maximum": 10_000], "Page, from 1"),
                query("limit", ["type": "integer", "minimum": 1, "maximum": 100], "Page size (20)"),
            ], responses: merge(ok("ConversationPage"), problems(["400"])))],
            "/v1/conversations/{jobId}": ["get": operation("A job's conversation (its client, its provider, admins)", tag: "chat", secured: true,
                                                           parameters: [jobId], responses: merge(ok("Conversation"), problems(["404"])))],
            "/v1/conversations/{jobId}/messages": [
                "get": operation("Messages by seq: newest first (below `before`), or oldest first above `after` (filling a gap)", tag: "chat", secured: true,
                                 parameters: [jobId,
                                              query("before", ["type": "integer", "minimum": 1, "maximum": 2_147_483_647], "Only seq below this"),
                                              query("after", ["type": "integer", "minimum": 0, "maximum": 2_147_483_647], "Only seq above this, oldest first"),
                                              query("limit", ["type": "integer", "minimum": 1, "maximum": 100], "Page size (50)")],
                                 responses: merge(ok("MessagePage"), problems(["400", "404"]))),
                "post": operation("Send a message (members; idempotent on clientMessageId: the same id answers 200 with the stored message)",
                                  tag: "chat", secured: true, requestBody: "MessageInput", parameters: [jobId],
                                  responses: merge(ok("Message", "201", "Stored"), ok("Message", "200", "Already stored under this clientMessageId"),
                                                   problems(["403", "404", "409", "422", "429", "503"]))),
            ],
            "/v1/conversations/{jobId}/read": ["post": operation("Move my read cursor (never backwards)", tag: "chat", secured: true,
                                                                 requestBody: "ReadInput", parameters: [jobId],
                                                                 responses: merge(ok("ReadState"), problems(["403", "404", "422"])))],
            "/v1/conversations/{jobId}/attachments": ["post": operation("Announce an upload (images or PDF, at most 10 MB): a presigned PUT URL and the key a message references",
                                                                        tag: "chat", secured: true, requestBody: "UploadInput", parameters: [jobId],
                                                                        responses: merge(ok("UploadTicket", "201", "Upload URL"), problems(["403", "404", "409", "422"])))],
        ]
        let attachment = object(["key": string, "contentType": string, "size": integer], required: ["key", "contentType", "size"])
        let summary = object(["id": string, "seq": seq, "senderId": string, "kind": enumeration(["user", "system"]), "text": string,
                              "attachments": array(attachment), "createdAt": dateTime],
                             required: ["id", "seq", "senderId", "kind", "attachments", "createdAt"])
        let status = enumeration(["open", "read_only", "frozen"])
        let jobStatus = enumeration(JobStatus.allCases.map(\.rawValue))
        // Text (not only white space) or at least one attachment: the server trims the text.
        var messageInput = object(["clientMessageId": ["type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[A-Za-z0-9._:-]+$"],
                                   "text": ["type": "string", "maxLength": 4_000, "description": "Needed unless attachments are given"],
                                   "attachments": ["type": "array", "maxItems": 10, "items": ["type": "string", "pattern": "^chat/[A-Za-z0-9_-]{1,64}/[0-9a-f-]{36}$"],
                                                   "description": "Keys from POST …/attachments, uploaded before sending"]],
                                  required: ["clientMessageId"])
        messageInput["anyOf"] = [
            ["required": ["text"], "properties": ["text": ["type": "string", "pattern": "\\S"]]],
            ["required": ["attachments"], "properties": ["attachments": ["type": "array", "minItems": 1]]],
        ]
        let schemas: [String: Any] = [
            "Conversation": object(["id": string, "jobId": string, "clientId": string, "providerId": string, "status": status, "jobStatus": jobStatus,
                                   "lastSeq": seq, "lastMessage": summary, "unreadCount": seq, "readUpTo": seq, "otherReadUpTo": seq,
                                   "writableUntil": dateTime, "lastActivityAt": dateTime],
                                  required: ["id", "jobId", "clientId", "providerId", "status", "jobStatus", "lastSeq", "unreadCount", "lastActivityAt"]),
            "ConversationPage": object(["conversations": array(ref("Conversation")), "page": integer, "limit": integer, "hasMore": boolean],
                                       required: ["conversations", "page", "limit", "hasMore"]),
            "Message": object(["id": string, "seq": seq, "senderId": string, "kind": enumeration(["user", "system"]), "text": string,
                               "attachments": array(object(["key": string, "contentType": string, "size": integer, "url": string, "urlExpiresAt": dateTime],
                                                           required: ["key", "contentType", "size", "url", "urlExpiresAt"])),
                               "clientMessageId": string, "moderation": array(string), "createdAt": dateTime],
                              required: ["id", "seq", "senderId", "kind", "attachments", "createdAt"]),
            "MessagePage": object(["messages": array(ref("Message")), "hasMore": boolean], required: ["messages", "hasMore"]),
            "MessageInput": messageInput,
            "ReadInput": object(["upToSeq": ["type": "integer", "minimum": 0, "maximum": 9_223_372_036_854_775_807, "description": "Beyond the last seq: up to the last seq"]], required: ["upToSeq"]),
            "ReadState": object(["jobId": string, "readUpTo": seq, "unreadCount": seq], required: ["jobId", "readUpTo", "unreadCount"]),
            "UploadInput": object(["contentType": enumeration(["image/jpeg", "image/png", "image/webp", "image/heic", "image/gif", "application/pdf"]),
                                   "size": ["type": "integer", "minimum": 1, "maximum": 10_485_760]], required: ["contentType", "size"]),
            "UploadTicket": object(["key": string, "uploadUrl": string, "method": enumeration(["PUT"]),
                                    "headers": ["type": "object", "additionalProperties": string], "expiresAt": dateTime],
                                   required: ["key", "uploadUrl", "method", "headers", "expiresAt"]),
        ]
        // A job's id is its conversation's key: from the job (Dispatch's operation) to its chat.
        let links = [
            OpenAPILink(from: "GET /v1/jobs/{id}", name: "conversation", to: "GET /v1/conversations/{jobId}", parameters: ["jobId": "$response.body#/id"]),
            OpenAPILink(from: "GET /v1/jobs/{id}", name: "messages", to: "GET /v1/conversations/{jobId}/messages", parameters: ["jobId": "$response.body#/id"]),
            OpenAPILink(from: "GET /v1/jobs/{id}", name: "send", to: "POST /v1/conversations/{jobId}/messages", parameters: ["jobId": "$response.body#/id"]),
            OpenAPILink(from: "GET /v1/conversations", name: "first", to: "GET /v1/conversations/{jobId}", parameters: ["jobId": "$response.body#/conversations/0/jobId"]),
            OpenAPILink(from: "GET /v1/conversations/{jobId}", name: "messages", to: "GET /v1/conversations/{jobId}/messages", parameters: ["jobId": "$response.body#/jobId"]),
            OpenAPILink(from: "GET /v1/conversations/{jobId}", name: "send", to: "POST /v1/conversations/{jobId}/messages", parameters: ["jobId": "$response.body#/jobId"]),
            OpenAPILink(from: "GET /v1/conversations/{jobId}", name: "read", to: "POST /v1/conversations/{jobId}/read", parameters: ["jobId": "$response.body#/jobId"]),
            OpenAPILink(from: "GET /v1/conversations/{jobId}", name: "attach", to: "POST /v1/conversations/{jobId}/attachments", parameters: ["jobId": "$response.body#/jobId"]),
        ]
        return OpenAPIFragment(paths: paths, schemas: schemas, links: links)
    }
}
