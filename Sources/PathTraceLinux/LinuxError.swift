#if os(Linux)
import Glibc
import PathTraceCore

/// A failed system or library call, with the operation's name and its errno.
public enum LinuxError: Error, Equatable, CustomStringConvertible {
    /// EPERM/EACCES: the operation needs CAP_NET_ADMIN (the CLI exits 4).
    case permissionDenied(operation: String, errno: Int32)
    /// `/run/netns/NAME` or `/proc/N/ns/net` does not exist.
    case noSuchNamespace(String)
    /// An nfnetlink_log group another socket already listens on (the kernel answers EPERM).
    case groupBusy(group: UInt16)
    /// Any other failure.
    case failed(operation: String, errno: Int32)

    /// Maps an errno to the case the CLI distinguishes: EPERM and EACCES mean missing privileges.
    public init(operation: String, errno code: Int32) {
        switch code {
        case EPERM, EACCES: self = .permissionDenied(operation: operation, errno: code)
        default: self = .failed(operation: operation, errno: code)
        }
    }

    /// The errno, when the error came from a call.
    public var errno: Int32? {
        switch self {
        case .permissionDenied(_, let e), .failed(_, let e): return e
        case .groupBusy: return EPERM
        case .noSuchNamespace: return ENOENT
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
            return "\(op): \(LinuxError.message(e)) (needs CAP_NET_ADMIN; run as root)"
        case .noSuchNamespace(let name): return "network namespace \(name) does not exist"
        case .groupBusy(let g): return "nfnetlink_log group \(g) already has a listener"
        case .failed(let op, let e): return "\(op): \(LinuxError.message(e))"
        }
    }

    static func message(_ code: Int32) -> String {
        guard let s = strerror(code) else { return "errno \(code)" }
        return String(cString: s)
    }
}

/// Every raw call goes through here: EINTR is retried, -1 becomes a `LinuxError` naming the operation.
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

    /// Like `call`, but returns the errno instead of throwing (receive loops that count ENOBUFS).
    static func attempt<T: FixedWidthInteger & SignedInteger>(_ body: () -> T) -> Result<T, Errno> {
        while true {
            let r = body()
            if r >= 0 { return .success(r) }
            let e = Glibc.errno
            if e == EINTR { continue }
            return .failure(Errno(code: e))
        }
    }

    /// Whether the calling process has CAP_NET_ADMIN in its effective set.
    static func hasNetAdmin() -> Bool {
        guard let f = fopen("/proc/self/status", "r") else { return false }
        defer { fclose(f) }
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), f) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("CapEff:") else { continue }
            let hex = String(text.dropFirst(7)).trimmingSpaces()
            guard let caps = UInt64(hex, radix: 16) else { return false }
            return caps & (1 << 12) != 0
        }
        return false
    }
}

/// An errno value, as a receive loop sees it.
struct Errno: Error, Equatable {
    var code: Int32
}
#endif
