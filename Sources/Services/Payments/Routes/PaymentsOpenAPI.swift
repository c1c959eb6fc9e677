import Foundation
import MarketplaceContracts
import MarketplacePlatform

/// The payment paths and schemas of `/openapi.json`: what PaymentRoutes accept and answer.
enum PaymentsOpenAPI {
    static var fragment: OpenAPIFragment { OpenAPI.payments }
}

extension OpenAPI {
    fileprivate static var payments: OpenAPIFragment {
        let id = path("id")
        let paths: [String: [String: Any]] = [
            "/v1/payments/methods": [
                "get": operation("My cards (the default one carries holds)", tag: "payments", secured: true, responses: merge(ok("PaymentMethods"), problems(["503"]))),
                "post": operation("Attach a card made by Stripe.js or a mobile SDK (pm_...); the first becomes the default", tag: "payments", secured: true,
                                  requestBody: "PaymentMethodInput", responses: merge(ok("PaymentMethod", "201", "Attached"), problems(["402", "422", "503"]))),
            ],
            "/v1/payments/methods/{id}/default": ["post": operation("Make one of my cards the default", tag: "payments", secured: true, parameters: [id],
                                                                    responses: merge(ok("PaymentMethod"), problems(["404", "503"])))],
            "/v1/payments/methods/{id}": ["delete": operation("Remove one of my cards", tag: "payments", secured: true, parameters: [id],
                                                              responses: merge(noContent, problems(["404", "503"])))],
            "/v1/payments": ["get": operation("A job's payments (its client, its provider, admins)", tag: "payments", secured: true, parameters: [
                query("jobId", ["type": "string", "minLength": 1], "The job", required: true),
            ], responses: merge(ok("Payments"), problems(["400", "404"])))],
            "/v1/payments/{id}": ["get": operation("One payment (its client, its provider, admins)", tag: "payments", secured: true, parameters: [id],
                                                   responses: merge(ok("Payment"), problems(["404"])))],
            "/v1/payments/webhooks/stripe": ["post": [
                "summary": "Stripe's webhook: verified over the raw body (Stripe-Signature), stored, processed afterwards",
                "tags": ["payments"],
                "parameters": [["name": "Stripe-Signature", "in": "header", "required": true,
                                "schema": ["type": "string", "pattern": "^t=[0-9]+(,v[0-9]+=[0-9a-zA-Z]+)*,v1=[0-9a-f]{64}(,v[0-9]+=[0-9a-zA-Z]+)*$"],
                                "description": "t=<unix time>,v1=<HMAC-SHA256 hex> (a forged or stale one is 400 all the same)"]],
                "requestBody": ["required": true, "content": ["application/json": ["schema": ["type": "object"]]]],
                // 401: a bearer token that is sent and not valid is refused here too, as everywhere (Stripe sends none).
                "responses": merge(ok("WebhookReceipt"), problems(["400", "401", "413"])),
            ]],
            "/v1/providers/me/earnings": ["get": operation("My earnings: balance, pending holds and ledger postings, newest first (providers)",
                                                           tag: "payments", secured: true, parameters: [
                query("cursor", ["type": "string", "minLength": 1], "nextCursor of the previous page"),
                query("limit", ["type": "integer", "minimum": 1, "maximum": 100], "Page size (50)"),
            ], responses: merge(ok("Earnings"), problems(["400", "403"])))],
            "/v1/admin/payments/{id}/refund": ["post": operation("Refund a captured payment, partly or fully (admins)", tag: "admin", secured: true,
                                                                 requestBody: "RefundInput", parameters: [id],
                                                                 responses: merge(ok("Payment"), ok("Payment", "202", "Refund in progress (the payment service is retried)"),
                                                                                  problems(["403", "404", "409", "422"])))],
            "/v1/admin/ledger/check": ["get": operation("Check the ledger: every transaction balances, every capture and refund has its postings (admins)",
                                                        tag: "admin", secured: true, responses: merge(ok("LedgerCheck"), problems(["403"])))],
        ]
        // Ledger amounts carry a sign (a refund takes back; credit-normal accounts total negative).
        let signedMoney = object(["amount": ["type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?$"], "currency": currency], required: ["amount", "currency"])
        let card = object(["id": string, "brand": string, "last4": string, "expMonth": integer, "expYear": integer, "isDefault": boolean],
                          required: ["id", "isDefault"])
        let payment = object(["id": string, "requestId": string, "jobId": string, "clientId": string, "providerId": string,
                              "status": enumeration(Payment.Status.allCases.map(\.rawValue)), "hold": money, "captured": money, "refunded": money,
                              "platformFee": money, "pendingOperation": enumeration(["capture", "void", "refund"]), "failureReason": string,
                              "createdAt": dateTime, "updatedAt": dateTime],
                             required: ["id", "requestId", "clientId", "status", "hold", "createdAt", "updatedAt"])
        let schemas: [String: Any] = [
            "PaymentMethod": card,
            "PaymentMethods": object(["methods": array(card)], required: ["methods"]),
            "PaymentMethodInput": object(["paymentMethodId": ["type": "string", "pattern": "^pm_[A-Za-z0-9_]{1,200}$"], "makeDefault": boolean],
                                         required: ["paymentMethodId"]),
            "Payment": payment,
            "Payments": object(["payments": array(payment)], required: ["payments"]),
            "WebhookReceipt": object(["received": boolean, "duplicate": boolean], required: ["received", "duplicate"]),
            "Earnings": object(["balance": array(signedMoney), "pendingHolds": array(money), "nextCursor": string,
                                "postings": array(object(["transactionId": string, "kind": enumeration(["capture", "refund"]), "paymentId": string,
                                                          "jobId": string, "amount": signedMoney, "at": dateTime],
                                                         required: ["transactionId", "kind", "paymentId", "amount", "at"]))],
                               required: ["balance", "pendingHolds", "postings"]),
            "RefundInput": object(["amount": money, "reason": text(maxLength: 500)], required: ["reason"]),
            "LedgerCheck": object(["ok": boolean, "transactions": integer, "unbalanced": array(string), "mismatched": array(string),
                                   "totals": ["type": "object", "additionalProperties": array(signedMoney)]],
                                  required: ["ok", "transactions", "unbalanced", "mismatched", "totals"]),
        ]
        return OpenAPIFragment(paths: paths, schemas: schemas)
    }
}
