#if os(Linux)
import Foundation
import Glibc

/// Whether TRACE lines printed in a namespace reach the kernel log. nf_log_syslog prints for the
/// initial namespace only, unless `net.netfilter.nf_log_all_netns` (a sysctl of the initial
/// namespace) is 1; otherwise it drops them without a trace.
public enum KernelLogReach: Equatable, Sendable {
    /// The namespace is the initial one, or nf_log_all_netns is 1.
    case reaches
    /// Another namespace, and nf_log_all_netns is 0.
    case blockedByAllNetns
    /// pathtrace itself runs outside the initial namespace and cannot read the sysctl.
    case unknown(String)

    public static let allNetnsPath = "/proc/sys/net/netfilter/nf_log_all_netns"
    /// The initial namespace's inode (NET_NS_INIT_INO): fixed in recent kernels, and never one of
    /// the dynamically allocated ones (those start at 0xF0000000) in older kernels.
    static let initialNetInode: UInt = 0xEFFF_FFF9

    /// `namespaceFile`: the namespace's file (`/run/netns/NAME`, `/proc/PID/ns/net`, `/proc/self/ns/net`).
    public static func check(
        namespaceFile: String, selfFile: String = "/proc/self/ns/net", allNetnsFile: String = allNetnsPath
    ) -> KernelLogReach {
        var ns = stat()
        guard stat(namespaceFile, &ns) == 0 else { return .unknown("cannot stat \(namespaceFile)") }
        if UInt(ns.st_ino) == initialNetInode { return .reaches }
        // The sysctl exists only in the initial namespace's /proc/sys: readable means pathtrace runs there.
        guard let text = try? String(contentsOfFile: allNetnsFile, encoding: .utf8) else {
            return .unknown("pathtrace does not run in the initial network namespace")
        }
        var own = stat()
        if stat(selfFile, &own) == 0, own.st_dev == ns.st_dev, own.st_ino == ns.st_ino { return .reaches }
        return text.trimmingCharacters(in: .whitespacesAndNewlines) == "0" ? .blockedByAllNetns : .reaches
    }
}
#endif
