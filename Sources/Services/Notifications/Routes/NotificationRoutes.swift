import Foundation
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP

/// `/v1/notifications` (my feed, read state, preferences), `/v1/devices` (push tokens) and the
/// admin's `/v1/admin/notifications` (delivery log, announcements).
public enum NotificationRoutes {
    struct AnnouncementInput: Decodable { var userId: String; var title: String; var body: String }

    public static func register(on router: Router<AppRequestContext>, service: NotificationService) {
        let notifications = router.group("/v1/notifications")
        notifications.get { request, context in
            let caller = try context.requireCaller()
            let limit = try request.integerParameter("limit", in: 1...100) ?? 20
            return try jsonResponse(try await service.notifications(caller, cursor: request.uri.queryParameters.get("cursor"), limit: limit))
        }
        notifications.get("/unread-count") { _, context in
            try jsonResponse(try await service.unreadCount(try context.requireCaller()))
        }
        notifications.post("/read-all") { _, context in
            try jsonResponse(try await service.markAllRead(try context.requireCaller()))
        }
        notifications.get("/preferences") { _, context in
            try jsonResponse(try await service.preferences(try context.requireCaller()))
        }
        notifications.put("/preferences") { request, context in
            let caller = try context.requireCaller()
            let input = try await request.decodeJSON(NotificationService.PreferencesInput.self, context: context)
            return try jsonResponse(try await service.replacePreferences(caller, input))
        }
        notifications.post("/{id}/read") { _, context in
            try jsonResponse(try await service.markRead(try context.requireCaller(), id: try context.parameters.require("id")))
        }

        let devices = router.group("/v1/devices")
        devices.get { _, context in
            try jsonResponse(try await service.myDevices(try context.requireCaller()))
        }
        devices.post { request, context in
            let caller = try context.requireCaller()
            let input = try await request.decodeJSON(NotificationService.DeviceInput.self, context: context)
            let registered = try await service.registerDevice(caller, input)
            return try jsonResponse(registered.device, status: registered.created ? .created : .ok)
        }
        devices.delete("/{id}") { _, context in
            try await service.deleteDevice(try context.requireCaller(), id: try context.parameters.require("id"))
            return Response(status: .noContent)
        }

        let admin = router.group("/v1/admin/notifications")
        admin.get { request, context in
            let caller = try context.requireRole(.admin)
            guard let userID = request.uri.queryParameters.get("userId"), !userID.isEmpty else {
                throw DomainError.invalidParameter("userId", "the user whose deliveries to list")
            }
            let limit = try request.integerParameter("limit", in: 1...500) ?? 100
            return try jsonResponse(try await service.deliveryLog(caller, userID: userID, limit: limit))
        }
        admin.post("/announcements") { request, context in
            let caller = try context.requireRole(.admin)
            let input = try await request.decodeJSON(AnnouncementInput.self, context: context)
            return try jsonResponse(try await service.announce(caller, userID: input.userId, title: input.title, body: input.body,
                                                               traceparent: request.traceparent), status: .accepted)
        }
    }
}
