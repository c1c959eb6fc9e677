import Foundation
import HTTPTypes
import Hummingbird
import MarketplaceContracts
import MarketplaceHTTP

/// `/v1/payments/methods` (my cards), `/v1/payments` (a job's payments), the Stripe webhook,
/// `/v1/providers/me/earnings`, and the admin's refunds and ledger check.
public enum PaymentRoutes {
    struct MethodInput: Decodable { var paymentMethodId: String; var makeDefault: Bool? }
    struct RefundInput: Decodable { var amount: Money?; var reason: String }

    public static func register(on router: Router<AppRequestContext>, service: PaymentService) {
        let methods = router.group("/v1/payments/methods")
        methods.get { _, context in
            try jsonResponse(MethodList(methods: try await service.paymentMethods(try context.requireCaller())))
        }
        methods.post { request, context in
            let caller = try context.requireCaller()
            let input = try await request.decodeJSON(MethodInput.self, context: context)
            return try jsonResponse(try await service.addPaymentMethod(caller, paymentMethodID: input.paymentMethodId, makeDefault: input.makeDefault),
                                    status: .created)
        }
        methods.post("/{id}/default") { _, context in
            try jsonResponse(try await service.setDefaultPaymentMethod(try context.requireCaller(), id: try context.parameters.require("id")))
        }
        methods.delete("/{id}") { _, context in
            try await service.removePaymentMethod(try context.requireCaller(), id: try context.parameters.require("id"))
            return Response(status: .noContent)
        }

        router.get("/v1/payments") { request, context in
            let caller = try context.requireCaller()
            guard let jobID = request.uri.queryParameters.get("jobId"), !jobID.isEmpty else {
                throw DomainError.invalidParameter("jobId", "the job whose payments to list")
            }
            return try jsonResponse(PaymentList(payments: try await service.payments(caller, jobID: jobID)))
        }
        router.get("/v1/payments/{id}") { _, context in
            try jsonResponse(try await service.payment(try context.requireCaller(), id: try context.parameters.require("id")))
        }

        // The raw body, as received: the signature covers these bytes, not a re-encoding.
        router.post("/v1/payments/webhooks/stripe") { request, context in
            let body: ByteBuffer
            do { body = try await request.body.collect(upTo: 1 << 20) } catch {
                throw DomainError(kind: .contentTooLarge, code: "body_too_large", title: "The body is too large", detail: "at most 1 MiB")
            }
            let receipt = try await service.receiveWebhook(body: Array(body.readableBytesView), signature: request.headers[stripeSignature])
            return try jsonResponse(WebhookAnswer(received: true, duplicate: receipt == .duplicate))
        }

        router.get("/v1/providers/me/earnings") { request, context in
            let caller = try context.requireCaller()
            let limit = try request.integerParameter("limit", in: 1...100) ?? 50
            return try jsonResponse(try await service.earnings(caller, cursor: request.uri.queryParameters.get("cursor"), limit: limit))
        }

        router.post("/v1/admin/payments/{id}/refund") { request, context in
            let caller = try context.requireRole(.admin)
            let input = try await request.decodeJSON(RefundInput.self, context: context)
            let payment = try await service.refund(caller, paymentID: try context.parameters.require("id"), amount: input.amount, reason: input.reason)
            return try jsonResponse(payment, status: payment.pendingOperation == nil ? .ok : .accepted)
        }
        router.get("/v1/admin/ledger/check") { _, context in
            try jsonResponse(try await service.checkLedger(try context.requireRole(.admin)))
        }
    }

    struct MethodList: Encodable { var methods: [CardMethod] }
    struct PaymentList: Encodable { var payments: [PaymentView] }
    struct WebhookAnswer: Encodable { var received: Bool; var duplicate: Bool }

    static let stripeSignature = HTTPField.Name("Stripe-Signature")!
}
