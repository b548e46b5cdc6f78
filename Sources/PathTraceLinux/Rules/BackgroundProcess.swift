#if os(Linux)
import Foundation
import Glibc

/// A program `SystemCommandRunner.start` left running, the leader of a process group of its own.
/// Whoever started it ends it with `stop()` or waits for it, so it never lingers as a zombie.
public final class BackgroundProcess: @unchecked Sendable {
    public let pid: Int32
    private let lock = NSLock()
    private var status: Int32?

    init(pid: Int32) { self.pid = pid }

    /// Whether it still runs; a program that ended is reaped here.
    public var isRunning: Bool { lock.withLock { reap(blocking: false) } == nil }

    /// Sends `signo` to its process group (so a `timeout` it runs under takes its child along), unless
    /// it was reaped already: its pid may belong to someone else by now.
    public func signal(_ signo: Int32) {
        lock.withLock {
            if reap(blocking: false) == nil { _ = kill(-pid, signo) }
        }
    }

    /// Waits for it to end; returns its exit status, 128 + N after signal N.
    @discardableResult
    public func wait() -> Int32 { lock.withLock { reap(blocking: true) } ?? -1 }

    /// SIGTERM, then SIGKILL when it is still there after `grace` seconds; returns how it ended.
    @discardableResult
    public func stop(grace: Double = 2) -> Int32 {
        signal(SIGTERM)
        let deadline = Date().addingTimeInterval(grace)
        while isRunning && Date() < deadline { usleep(10_000) }
        signal(SIGKILL)
        return wait()
    }

    /// The exit status once it ended (nil while it runs and `blocking` is false). Call with the lock held.
    private func reap(blocking: Bool) -> Int32? {
        if let status { return status }
        var raw: Int32 = 0
        while true {
            let r = waitpid(pid, &raw, blocking ? 0 : WNOHANG)
            if r == pid {
                status = Spawn.exitCode(raw)
                return status
            }
            if r == 0 { return nil }
            if errno == EINTR { continue }
            // ECHILD: reaped elsewhere; nothing is left to wait for.
            status = -1
            return status
        }
    }
}
#endif
