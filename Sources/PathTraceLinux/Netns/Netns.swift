#if os(Linux)
import CMnl
import Foundation
import Glibc

/// A network namespace: a name under `/run/netns` (as `ip netns` creates them) or a process's, `pid:N`.
public enum NetnsTarget: Sendable, Hashable, CustomStringConvertible {
    case named(String)
    case process(Int32)

    /// Parses `NAME` or `pid:N`; nil for names that are empty, contain `/` or are `.`/`..`.
    public init?(_ text: String) {
        if text.hasPrefix("pid:") {
            guard let pid = Int32(text.dropFirst(4)), pid > 0 else { return nil }
            self = .process(pid)
            return
        }
        guard !text.isEmpty, text.utf8.count <= 255, !text.contains("/"), text != ".", text != "..",
            !text.contains("\0")
        else { return nil }
        self = .named(text)
    }

    /// The namespace file setns(2) opens.
    public var path: String {
        switch self {
        case .named(let name): return "/run/netns/" + name
        case .process(let pid): return "/proc/\(pid)/ns/net"
        }
    }

    public var description: String {
        switch self {
        case .named(let name): return name
        case .process(let pid): return "pid:\(pid)"
        }
    }
}

/// Runs code inside a network namespace on a dedicated thread.
///
/// setns(CLONE_NEWNET) changes only the calling thread, so the work runs on a fresh thread that
/// enters the namespace first and ends with the work: no pooled thread is ever moved. Sockets opened
/// there stay bound to that namespace wherever they are used later.
public enum Netns {
    /// Whether the namespace file exists.
    public static func exists(_ target: NetnsTarget) -> Bool {
        access(target.path, F_OK) == 0
    }

    /// Runs `body` on a new thread inside `target` (or in the caller's namespace when nil) and
    /// returns its result. Throws `LinuxError.noSuchNamespace` when the namespace does not exist.
    public static func run<T: Sendable>(
        in target: NetnsTarget?, _ body: @escaping @Sendable () throws -> T
    ) throws -> T {
        let box = ResultBox<T>()
        DedicatedThread.start(name: "pathtrace-netns") {
            do {
                if let target { try enter(target) }
                box.result = .success(try body())
            } catch {
                box.result = .failure(error)
            }
            box.done.signal()
        }
        box.done.wait()
        guard let result = box.result else { throw LinuxError.failed(operation: "netns thread", errno: EINVAL) }
        return try result.get()
    }

    /// Moves the calling thread into `target`. Call only on a thread this module created.
    static func enter(_ target: NetnsTarget) throws {
        let path = target.path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            let e = Glibc.errno
            if e == ENOENT || e == ENOTDIR { throw LinuxError.noSuchNamespace(target.description) }
            throw LinuxError(operation: "open \(path)", errno: e)
        }
        defer { close(fd) }
        do {
            try Sys.call("setns \(target)") { pt_setns_net(fd) }
        } catch LinuxError.failed(_, EINVAL) {
            // Not a network namespace file (a stale bind mount, or a plain file under /run/netns).
            throw LinuxError.noSuchNamespace(target.description)
        }
    }
}

/// A one-shot result handed from a dedicated thread to the caller that waits for it.
final class ResultBox<T>: @unchecked Sendable {
    var result: Result<T, Error>?
    let done = DispatchSemaphore(value: 0)
}

/// Threads that may change their namespace: fresh, never pooled, gone when their work ends.
enum DedicatedThread {
    static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        let thread = Thread(block: body)
        thread.name = name
        thread.start()
    }
}
#endif
