import Metrics

/// Payments' Prometheus series (on every process's `/metrics`).
struct PaymentMetrics: Sendable {
    /// Holds, captures, voids, refunds by outcome.
    func operation(_ name: String, _ outcome: String) {
        Counter(label: "payments_operations_total", dimensions: [("operation", name), ("outcome", outcome)]).increment()
    }
    /// Calls to the payment service by operation and outcome, and their duration.
    func providerCall(_ operation: String, _ outcome: String, seconds: Double) {
        Counter(label: "stripe_requests_total", dimensions: [("operation", operation), ("outcome", outcome)]).increment()
        if outcome != "circuit_open" {
            Timer(label: "stripe_request_duration_seconds", dimensions: [("operation", operation)]).recordNanoseconds(Int64(seconds * 1e9))
        }
    }
    /// 0 closed, 1 half-open, 2 open.
    let circuit = Gauge(label: "stripe_circuit_state")
    /// Webhook deliveries by outcome (`accepted`, `duplicate`, `bad_signature`, `stale`, `malformed`).
    func webhook(_ outcome: String) { Counter(label: "payment_webhooks_total", dimensions: [("outcome", outcome)]).increment() }
    /// Stored webhook events processed, by outcome (`applied`, `no_change`, `unknown_payment`, `ignored`).
    func webhookProcessed(_ outcome: String) { Counter(label: "payment_webhooks_processed_total", dimensions: [("outcome", outcome)]).increment() }
    /// Payments that failed for good (an alert fires on any).
    let failed = Counter(label: "payments_failed_total")
    /// Stripe calls being retried (transient failures).
    let retried = Counter(label: "payments_operation_retries_total")
}
