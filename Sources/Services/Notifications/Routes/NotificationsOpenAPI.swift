import Foundation
import MarketplaceContracts
import MarketplacePlatform

/// The notification paths and schemas of `/openapi.json`: what NotificationRoutes accept and answer.
enum NotificationsOpenAPI {
    static var fragment: OpenAPIFragment { OpenAPI.notifications }
}

extension OpenAPI {
    fileprivate static var notifications: OpenAPIFragment {
        let id = path("id")
        let paths: [String: [String: Any]] = [
            "/v1/notifications": ["get": operation("My in-app notifications, newest first, with the unread count", tag: "notifications", secured: true, parameters: [
                query("cursor", ["type": "string", "pattern": "^[A-Za-z0-9]{1,64}$"], "nextCursor of the previous page"),
                query("limit", ["type": "integer", "minimum": 1, "maximum": 100], "Page size (20)"),
            ], responses: merge(ok("NotificationPage"), problems(["400"])))],
            "/v1/notifications/unread-count": ["get": operation("How many of my notifications are unread", tag: "notifications", secured: true,
                                                                responses: ok("UnreadCount"))],
            "/v1/notifications/read-all": ["post": operation("Mark all my notifications read", tag: "notifications", secured: true,
                                                             responses: ok("ReadAll"))],
            "/v1/notifications/{id}/read": ["post": operation("Mark one of my notifications read", tag: "notifications", secured: true, parameters: [id],
                                                              responses: merge(ok("Notification"), problems(["404"])))],
            "/v1/notifications/preferences": [
                "get": operation("My notification preferences (defaults until I set them)", tag: "notifications", secured: true,
                                 responses: ok("NotificationPreferences")),
                "put": operation("Replace my preferences (absent fields take their defaults; account e-mails stay on)", tag: "notifications", secured: true,
                                 requestBody: "NotificationPreferencesInput", responses: merge(ok("NotificationPreferences"), problems(["422"]))),
            ],
            "/v1/devices": [
                "get": operation("My registered devices", tag: "notifications", secured: true, responses: ok("Devices")),
                "post": operation("Register a device's push token (again after it was disabled: enabled again)", tag: "notifications", secured: true,
                                  requestBody: "DeviceInput",
                                  responses: merge(ok("Device", "201", "Registered"), ok("Device", "200", "Already registered"), problems(["422", "503"]))),
            ],
            "/v1/devices/{id}": ["delete": operation("Remove one of my devices", tag: "notifications", secured: true, parameters: [id],
                                                     responses: merge(noContent, problems(["404"])))],
            "/v1/admin/notifications": ["get": operation("A user's delivery log, newest first (admins)", tag: "admin", secured: true, parameters: [
                query("userId", ["type": "string", "minLength": 1], "The user", required: true),
                query("limit", ["type": "integer", "minimum": 1, "maximum": 500], "At most (100)"),
            ], responses: merge(ok("Deliveries"), problems(["400", "403"])))],
            "/v1/admin/notifications/announcements": ["post": operation("Send a user an announcement (marketing: their preferences and quiet hours apply)",
                                                                        tag: "admin", secured: true, requestBody: "AnnouncementInput",
                                                                        responses: merge(ok("Deliveries", "202", "Planned"), problems(["403", "404", "422"])))],
        ]
        let category = NotificationCategory.allCases.map(\.rawValue)
        let channel = NotificationChannel.allCases.map(\.rawValue)
        func row(_ category: String) -> [String: Any] {
            // Account and security e-mails cannot be turned off.
            let cells = channel.map { ($0, category == NotificationCategory.account.rawValue && $0 == NotificationChannel.email.rawValue
                                           ? ["type": "boolean", "enum": [true]] as [String: Any] : boolean) }
            return ["type": "object", "properties": Dictionary(uniqueKeysWithValues: cells), "additionalProperties": false]
        }
        let channels: [String: Any] = ["type": "object", "properties": Dictionary(uniqueKeysWithValues: category.map { ($0, row($0)) }), "additionalProperties": false]
        let clock: [String: Any] = ["type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"]
        let quietHours = object(["start": clock, "end": clock], required: ["start", "end"])
        let timeZone: [String: Any] = ["type": "string", "enum": TimeZone.knownTimeZoneIdentifiers.sorted() + (TimeZone.knownTimeZoneIdentifiers.contains("UTC") ? [] : ["UTC"]),
                                       "description": "An IANA time zone"]
        let locale = enumeration(NotificationPreferences.supportedLocales)
        let delivery = object(["id": string, "userId": string, "channel": enumeration(NotificationChannel.sent.map(\.rawValue)),
                               "kind": enumeration(NotificationKind.allCases.map(\.rawValue)),
                               "status": enumeration(DeliveryRecord.Status.allCases.map(\.rawValue)), "attempts": integer, "jobId": string,
                               "notificationId": string, "dueAt": dateTime, "providerMessageId": string, "lastError": string,
                               "createdAt": dateTime, "updatedAt": dateTime, "sentAt": dateTime],
                              required: ["id", "userId", "channel", "kind", "status", "attempts", "createdAt", "updatedAt"])
        let device = object(["id": string, "platform": enumeration(Device.Platform.allCases.map(\.rawValue)), "appVersion": string, "enabled": boolean,
                             "disabledAt": dateTime, "createdAt": dateTime], required: ["id", "platform", "enabled", "createdAt"])
        let schemas: [String: Any] = [
            "Notification": object(["id": string, "kind": enumeration(NotificationKind.allCases.map(\.rawValue)), "category": enumeration(category),
                                    "title": string, "body": string, "jobId": string, "data": ["type": "object", "additionalProperties": string],
                                    "critical": boolean, "read": boolean, "readAt": dateTime, "createdAt": dateTime],
                                   required: ["id", "kind", "category", "title", "body", "data", "critical", "read", "createdAt"]),
            "NotificationPage": object(["notifications": array(ref("Notification")), "unreadCount": integer, "nextCursor": string],
                                       required: ["notifications", "unreadCount"]),
            "UnreadCount": object(["unreadCount": integer], required: ["unreadCount"]),
            "ReadAll": object(["updated": integer, "unreadCount": integer], required: ["updated", "unreadCount"]),
            "NotificationPreferences": object(["channels": channels, "timeZone": string, "quietHours": quietHours, "locale": locale],
                                              required: ["channels", "timeZone", "locale"]),
            "NotificationPreferencesInput": object(["channels": channels, "timeZone": timeZone, "quietHours": quietHours, "locale": locale], required: []),
            "DeviceInput": object(["platform": enumeration(Device.Platform.allCases.map(\.rawValue)),
                                   "token": ["type": "string", "minLength": 1, "maxLength": 4_096, "pattern": "^[!-~]+$",
                                             "description": "The APNs or FCM token: printable ASCII, no spaces"],
                                   "appVersion": ["type": "string", "maxLength": 32]], required: ["platform", "token"]),
            "Device": device,
            "Devices": array(ref("Device")),
            "Deliveries": array(delivery),
            "AnnouncementInput": object(["userId": string, "title": ["type": "string", "minLength": 1, "maxLength": 120, "pattern": "\\S"],
                                         "body": ["type": "string", "minLength": 1, "maxLength": 1_000, "pattern": "\\S"]],
                                        required: ["userId", "title", "body"]),
        ]
        return OpenAPIFragment(paths: paths, schemas: schemas)
    }
}
