#if os(Linux)
import Foundation

/// The effective capabilities of this process, from `/proc/self/status`.
public enum Capabilities {
    /// CAP_NET_ADMIN, needed to change netfilter rules and nf_log sysctls.
    public static let netAdmin = 12

    /// The `CapEff:` mask of a `/proc/PID/status` text, or nil when it has none.
    public static func effective(statusText: String) -> UInt64? {
        for line in statusText.split(separator: "\n") where line.hasPrefix("CapEff:") {
            let hex = line.dropFirst("CapEff:".count).trimmingCharacters(in: .whitespaces)
            return UInt64(hex, radix: 16)
        }
        return nil
    }

    /// Whether a status text shows CAP_NET_ADMIN in the effective set.
    public static func hasNetAdmin(statusText: String) -> Bool {
        guard let mask = effective(statusText: statusText) else { return false }
        return mask & (1 << UInt64(netAdmin)) != 0
    }

    /// Whether this process may install trace rules; the CLI exits `ExitStatus.noNetAdmin` with nothing installed when not.
    public static func hasNetAdmin() -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return false }
        return hasNetAdmin(statusText: text)
    }
}
#endif
