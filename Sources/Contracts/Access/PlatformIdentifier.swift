/// The ids the platform makes (jobs, users): at most 64 of `A-Z a-z 0-9 - _`. Anything else
/// cannot name one, so channel names and conversation paths refuse it without a lookup.
public enum PlatformIdentifier {
    public static func isWellFormed(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A) || byte == 0x2D || byte == 0x5F
        }
    }
}
