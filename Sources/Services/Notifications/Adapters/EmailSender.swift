import MarketplaceSMTP

/// E-mail over SMTP (`SMTPClient`). The delivery id is the Message-ID, the same on every retry.
public struct EmailSender: ChannelSender {
    public let channel = NotificationChannel.email
    let client: SMTPClient
    let from: String
    let fromName: String

    public init(client: SMTPClient, from: String, fromName: String = "Marketplace") {
        self.client = client
        self.from = from
        self.fromName = fromName
    }

    public func send(_ request: SendRequest) async throws -> SendOutcome {
        guard let email = request.email else { return .skipped("no e-mail content") }
        let domain = from.split(separator: "@").last.map(String.init) ?? "marketplace.local"
        let messageID = "\(request.deliveryId.filter { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "." })@\(domain)"
        let message = EmailMessage(from: from, fromName: fromName, to: email.to, subject: email.subject, text: email.text, html: email.html,
                                   messageID: messageID)
        do {
            let reply = try await client.send(message)
            return .sent(providerMessageID: reply.isEmpty ? messageID : reply)
        } catch let error as SMTPError where !error.isTransient {
            throw PermanentDeliveryFailure(error.description)
        }
    }
}
