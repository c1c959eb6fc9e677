import Foundation
import MarketplacePlatform

/// The analytics paths and schemas of `/openapi.json`.
enum AnalyticsOpenAPI {
    static var fragment: OpenAPIFragment { OpenAPI.analytics }
}

extension OpenAPI {
    fileprivate static var analytics: OpenAPIFragment {
        let time: [String: Any] = ["type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\\\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2}))?$",
                                   "description": "ISO 8601: a date (midnight in the series' time zone) or a time"]
        let range = [query("from", time, "Start (30 days before `to` when left out)"), query("to", time, "End, exclusive (now when left out); at most 366 days after from")]
        let granularity = query("granularity", enumeration(["hour", "day", "week"]), "Point width (day)")
        let paths: [String: [String: Any]] = [
            "/v1/providers/me/analytics": ["get": operation("My analytics, zero-filled, in my time zone (providers)", tag: "analytics", secured: true,
                                                            parameters: range + [granularity], responses: merge(ok("ProviderAnalytics"), problems(["400", "403"])))],
            "/v1/admin/analytics/overview": ["get": operation("The platform's (or a category's) series, in UTC (admins)", tag: "admin", secured: true,
                                                              parameters: range + [granularity, query("category", slug, "Only this category")],
                                                              responses: merge(ok("PlatformAnalytics"), problems(["400", "403"])))],
            "/v1/admin/analytics/areas": ["get": operation("Supply against demand per area (geohash of 5), busiest first (admins)", tag: "admin", secured: true,
                                                           parameters: range, responses: merge(ok("AreaAnalytics"), problems(["400", "403"])))],
            "/dashboard": ["get": operation("The web dashboard for providers and admins (it signs in with this API)", tag: "analytics",
                                            responses: ["200": ["description": "The page", "content": ["text/html": ["schema": ["type": "string"]]]]])],
            "/dashboard/{asset}": ["get": operation("The dashboard's script, style sheet and images", tag: "analytics",
                                                    parameters: [["name": "asset", "in": "path", "required": true,
                                                                  "schema": ["type": "string", "pattern": "^[a-z0-9-]+\\.(html|css|js|svg|png|ico)$"]]],
                                                    responses: merge(["200": ["description": "The file", "content": [
                                                        "text/html": ["schema": ["type": "string"]], "text/css": ["schema": ["type": "string"]],
                                                        "text/javascript": ["schema": ["type": "string"]]]]], problems(["404"])))],
        ]
        let number: [String: Any] = ["type": "number"]
        let cancelled = object(["client": integer, "provider": integer, "admin": integer], required: ["client", "provider", "admin"])
        // Money sums can go below zero in a period where refunds outweigh captures.
        let signedMoney = object(["amount": ["type": "string", "pattern": "^-?[0-9]+(\\\\.[0-9]+)?$"], "currency": currency], required: ["amount", "currency"])
        let providerPoint = object(["start": dateTime, "offersReceived": integer, "offersAccepted": integer, "offersDeclined": integer, "offersExpired": integer,
                                    "acceptanceRate": number, "responseP50Ms": number, "responseP90Ms": number, "jobsAssigned": integer,
                                    "jobsCompleted": integer, "jobsCancelled": cancelled, "repeatClientJobs": integer, "ratingCount": integer,
                                    "ratingAverage": number, "earnings": array(object(["currency": currency, "gross": signedMoney, "fee": signedMoney, "net": signedMoney],
                                                                                      required: ["currency", "gross", "fee", "net"]))],
                                   required: ["start", "offersReceived", "offersAccepted", "offersDeclined", "offersExpired", "jobsAssigned",
                                              "jobsCompleted", "jobsCancelled", "repeatClientJobs", "ratingCount", "earnings"])
        let platformPoint = object(["start": dateTime, "requests": integer, "assigned": integer, "unfulfilled": integer, "completed": integer,
                                    "fillRate": number, "unfulfilledRate": number, "timeToMatchP50Ms": number, "timeToMatchP90Ms": number,
                                    "timeToArrivalP50Ms": number, "timeToArrivalP90Ms": number, "cancellations": cancelled,
                                    "gmv": array(signedMoney), "revenue": array(signedMoney), "onlineProviders": integer],
                                   required: ["start", "requests", "assigned", "unfulfilled", "completed", "cancellations", "gmv", "revenue", "onlineProviders"])
        let granularityValue = enumeration(["hour", "day", "week"])
        let schemas: [String: Any] = [
            "ProviderAnalytics": object(["providerId": string, "timeZone": string, "granularity": granularityValue, "from": dateTime, "to": dateTime,
                                         "points": array(providerPoint), "totals": providerPoint],
                                        required: ["providerId", "timeZone", "granularity", "from", "to", "points", "totals"]),
            "PlatformAnalytics": object(["category": string, "granularity": granularityValue, "from": dateTime, "to": dateTime,
                                         "points": array(platformPoint), "totals": platformPoint],
                                        required: ["granularity", "from", "to", "points", "totals"]),
            "AreaAnalytics": object(["areas": array(object(["geohash": string, "requests": integer, "assigned": integer, "onlineProviders": integer,
                                                            "fillRate": number, "demandPerProvider": number],
                                                           required: ["geohash", "requests", "assigned", "onlineProviders"]))], required: ["areas"]),
        ]
        return OpenAPIFragment(paths: paths, schemas: schemas)
    }
}
