import Foundation
import MarketplaceContracts
import MarketplaceMessaging
import MarketplacePlatform

/// Chat's worker, declared as topics + group + handler (the platform runs it with retries, dead
/// letters and graceful shutdown).
extension ChatModule {
    public static var workers: [WorkerDefinition<ChatModule>] {
        [
            // Job events become the conversation's timeline (through the inbox: once each); a
            // deleted account's messages are anonymised; sweeps close conversations whose
            // follow-up window ended and delete those past retention.
            .consumer("chat", summary: "keeps job conversations in step with their jobs: system entries, closing, retention, erasure") { module in
                ConsumerWorker(topics: [.jobs, .users], group: "chat-timeline", chores: [
                    PeriodicChore("closing conversations", every: .seconds(30)) { try await module.service.closeExpiredConversations() },
                    PeriodicChore("chat retention", every: .seconds(3_600)) { try await module.service.sweepRetention() },
                ]) { [inbox = module.service.timelineInbox] event in
                    switch event.type {
                    case IdentityEvents.userDeleted:
                        try await module.service.anonymise(userID: try event.decode(IdentityEvents.UserDeleted.self).userId)
                    default:
                        try await module.service.apply(event, inbox: inbox)
                    }
                }
            },
        ]
    }
}

extension ChatService {
    /// The timeline worker's inbox (`inbox_chat-timeline`).
    public var timelineInbox: Inbox { Inbox(mongo: mongo, consumer: "chat-timeline") }
}
