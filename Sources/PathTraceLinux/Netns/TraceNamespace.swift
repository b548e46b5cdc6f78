#if os(Linux)
import Glibc

/// Where pathtrace works: the network namespace it runs in, one named under `/run/netns`, or the one a
/// process is in (`pid:N`, for containers whose namespace has no name). Commands reach it through
/// `ip netns exec` / `nsenter`, collectors through setns(2) on `path`.
public enum TraceNamespace: Sendable, Equatable, Hashable, CustomStringConvertible {
    case current
    case named(String)
    case process(Int32)

    /// `nil` means the current namespace; `pid:N` a process's; a name is checked the way `ip netns` would accept it.
    public init(name: String?) throws(LinuxError) {
        guard let name else {
            self = .current
            return
        }
        if name.hasPrefix("pid:") {
            guard let pid = Int32(name.dropFirst(4)), pid > 0 else { throw .invalidNamespace(name) }
            self = .process(pid)
            return
        }
        guard TraceNamespace.isValidName(name) else { throw .invalidNamespace(name) }
        self = .named(name)
    }

    /// 1–64 of `A-Z a-z 0-9 . _ - @ +`, not `.` or `..`.
    public static func isValidName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 64, name != ".", name != ".." else { return false }
        return name.utf8.allSatisfy { b in
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 46 || b == 95 || b == 45
                || b == 64 || b == 43
        }
    }

    /// The name as the user gives it (`NAME` or `pid:N`); nil for the current namespace.
    public var name: String? {
        switch self {
        case .current: return nil
        case .named(let n): return n
        case .process(let pid): return "pid:\(pid)"
        }
    }

    /// The namespace file setns(2) opens; nil for the current namespace, which needs no setns.
    public var path: String? {
        switch self {
        case .current: return nil
        case .named(let name): return "/run/netns/" + name
        case .process(let pid): return "/proc/\(pid)/ns/net"
        }
    }

    /// Whether the namespace can be entered: always for `.current`, else when its namespace file exists.
    public var exists: Bool { path.map { access($0, F_OK) == 0 } ?? true }

    public var description: String { name.map { "netns \($0)" } ?? "the current namespace" }
}
#endif
