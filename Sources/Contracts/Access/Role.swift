/// What an account is on the platform; decides what it may call (docs/identity-permissions.md).
public enum Role: String, Codable, Sendable, CaseIterable { case admin, provider, client }
