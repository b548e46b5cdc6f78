#if os(Linux)
import Glibc
import PathTraceCore
import SystemPackage

/// Everything that can go wrong on the Linux side: a failed system call (with the operation's name and
/// its errno), a missing namespace or program, a program that failed, the session's state file.
public enum LinuxError: Error, Equatable, CustomStringConvertible {
    /// EPERM/EACCES: the operation needs CAP_NET_ADMIN (the CLI exits `ExitStatus.noNetAdmin`).
    case permissionDenied(operation: String, errno: Int32)
    /// `/run/netns/NAME` or `/proc/N/ns/net` does not exist.
    case noSuchNamespace(String)
    /// `--netns NAME` with a name that cannot be a namespace's.
    case invalidNamespace(String)
    /// An nfnetlink_log group another socket already listens on (the kernel answers EPERM).
    case groupBusy(group: UInt16)
    /// A program is not installed; `package` is the Debian package that provides it.
    case missingBinary(String, package: String)
    /// A program ran and failed.
    case commandFailed(argv: [String], status: Int32, stderr: String)
    /// A sysctl held or was to be given a value that is not a plain word.
    case unexpectedSysctlValue(key: String, value: String)
    /// The session's state file could not be written or read.
    case stateFile(path: String, reason: String)
    /// The session was torn down (a signal) while installing.
    case cancelled
    /// The trace rules could not be planned.
    case plan(TraceRulePlanError)
    /// Any other failed call.
    case failed(operation: String, errno: Int32)

    /// Maps an errno to the case the CLI distinguishes: EPERM and EACCES mean missing privileges.
    public init(operation: String, errno code: Int32) {
        switch code {
        case EPERM, EACCES: self = .permissionDenied(operation: operation, errno: code)
        default: self = .failed(operation: operation, errno: code)
        }
    }

    /// The same, from swift-system's `Errno`.
    public init(operation: String, _ errno: Errno) { self.init(operation: operation, errno: errno.rawValue) }

    /// The errno, when the error came from a call.
    public var errno: Int32? {
        switch self {
        case .permissionDenied(_, let e), .failed(_, let e): return e
        case .groupBusy: return EPERM
        case .noSuchNamespace: return ENOENT
        default: return nil
        }
    }

    /// Whether this is the missing-CAP_NET_ADMIN case.
    public var isPermissionDenied: Bool {
        if case .permissionDenied = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .permissionDenied(let op, let e):
            return "\(op): \(Errno(rawValue: e)) (needs CAP_NET_ADMIN; run as root)"
        case .noSuchNamespace(let name): return "network namespace \(name) does not exist"
        case .invalidNamespace(let name): return "--netns: '\(name)' is not a namespace name"
        case .groupBusy(let g): return "nfnetlink_log group \(g) already has a listener"
        case .missingBinary(let program, let package):
            return "\(program) not found; install the Debian package '\(package)' (apt-get install \(package))"
        case .commandFailed(let argv, let status, let stderr):
            let detail = stderr.split(separator: "\n").first.map { ": \($0)" } ?? ""
            return "\(PlannedCommand(argv)) failed with status \(status)\(detail)"
        case .unexpectedSysctlValue(let key, let value): return "\(key) holds an unexpected value '\(value)'"
        case .stateFile(let path, let reason): return "\(path): \(reason)"
        case .cancelled: return "interrupted while installing trace rules; what was installed has been removed"
        case .plan(let e): return e.description
        case .failed(let op, let e): return "\(op): \(Errno(rawValue: e))"
        }
    }
}

/// Every raw call goes through here: EINTR is retried, -1 becomes a `LinuxError` naming the operation.
/// swift-system's `FileDescriptor` covers files (`system`); what is left here are the calls it has no
/// wrapper for: setns, eventfd, poll, and the collectors' receive loops on sockets libmnl and
/// libnetfilter_log own (`attempt`: one call per datagram batch, the hot path of scripts/bench-live.sh).
enum Sys {
    @discardableResult
    static func call<T: FixedWidthInteger & SignedInteger>(_ operation: String, _ body: () -> T) throws -> T {
        while true {
            let r = body()
            if r == -1 {
                let e = Glibc.errno
                if e == EINTR { continue }
                throw LinuxError(operation: operation, errno: e)
            }
            return r
        }
    }

    /// Calls that return a pointer, NULL with errno on failure.
    static func pointer<P>(_ operation: String, _ body: () -> P?) throws -> P {
        while true {
            Glibc.errno = 0
            if let p = body() { return p }
            let e = Glibc.errno
            if e == EINTR { continue }
            throw LinuxError(operation: operation, errno: e == 0 ? EINVAL : e)
        }
    }

    /// A swift-system call (it retries EINTR itself), its `Errno` named with `operation`.
    static func system<T>(_ operation: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as Errno {
            throw LinuxError(operation: operation, error)
        }
    }

    /// Like `call`, but returns the errno instead of throwing (receive loops that count ENOBUFS).
    static func attempt<T: FixedWidthInteger & SignedInteger>(_ body: () -> T) -> Result<T, Errno> {
        while true {
            let r = body()
            if r >= 0 { return .success(r) }
            let e = Glibc.errno
            if e == EINTR { continue }
            return .failure(Errno(rawValue: e))
        }
    }
}
#endif
