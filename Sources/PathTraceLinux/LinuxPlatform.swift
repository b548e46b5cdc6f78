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

    /// The CPUs this process may run on (`taskset`, cgroup cpusets), not the machine's count.
    public static func usableCPUs() -> Int {
        // A cpu_set_t: 1024 bits.
        var mask = [UInt64](repeating: 0, count: 16)
        let ok = mask.withUnsafeMutableBytes { sched_getaffinity(0, $0.count, $0.baseAddress) == 0 }
        return ok ? mask.reduce(0) { $0 + $1.nonzeroBitCount } : 1
    }
}
#endif
