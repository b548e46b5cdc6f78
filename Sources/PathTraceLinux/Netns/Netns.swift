#if os(Linux)
import CMnl
import Foundation
import Glibc
import SystemPackage

/// Runs code inside a network namespace on a dedicated thread.
///
/// setns(CLONE_NEWNET) changes only the calling thread, so the work runs on a fresh thread that
/// enters the namespace first and ends with the work: no pooled thread is ever moved. Sockets opened
/// there stay bound to that namespace wherever they are used later.
public enum Netns {
    /// Runs `body` on a new thread inside `namespace` and returns its result.
    /// Throws `LinuxError.noSuchNamespace` when the namespace does not exist.
    public static func run<T: Sendable>(
        in namespace: TraceNamespace, _ body: @escaping @Sendable () throws -> T
    ) throws -> T {
        let box = ResultBox<T>()
        DedicatedThread.start(name: "pathtrace-netns") {
            do {
                try enter(namespace)
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

    /// Moves the calling thread into `namespace` (`.current` stays). Call only on a thread this module created.
    static func enter(_ namespace: TraceNamespace) throws {
        guard let path = namespace.path, let name = namespace.name else { return }
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(FilePath(path), .readOnly, options: .closeOnExec)
        } catch let e as Errno {
            if e == .noSuchFileOrDirectory || e == .notDirectory { throw LinuxError.noSuchNamespace(name) }
            throw LinuxError(operation: "open \(path)", e)
        }
        defer { try? file.close() }
        do {
            try Sys.call("setns \(name)") { pt_setns_net(file.rawValue) }
        } catch LinuxError.failed(_, EINVAL) {
            // Not a network namespace file (a stale bind mount, or a plain file under /run/netns).
            throw LinuxError.noSuchNamespace(name)
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
