#if os(Linux)
import CMnl
import CNetfilterLog

/// Versions of the C libraries this build links, to prove the system-library targets resolve.
public enum LinuxPlatform {
    /// Opens and closes an nfnetlink_log handle and an mnl socket without binding: checks linkage only.
    public static func librariesLinked() -> Bool {
        let mnlLinked = mnl_socket_get_fd != nil
        let nflogLinked = nflog_open != nil
        return mnlLinked && nflogLinked
    }
}
#endif
