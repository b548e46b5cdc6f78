#if os(Linux)
import Dispatch
import Foundation
import Glibc

/// Runs a session's teardown exactly once: on SIGINT, SIGTERM or SIGHUP, on normal exit, or on a thrown error.
///
/// The signals are set to `SIG_IGN` and delivered through Dispatch signal sources, so teardown runs on an
/// ordinary queue (it may spawn `iptables -D`), never inside an async signal handler.
///
/// Create it on the main thread (e.g. first thing in `@main`'s `main()`), before installing anything. On Linux
/// libdispatch reads signals through a signalfd, and the kernel discards a `SIG_IGN` signal unless the main
/// thread blocks it, so `init` blocks the signals in the calling thread; Dispatch's worker threads block
/// them already.
public final class TeardownGuard: @unchecked Sendable {
    public static let defaultSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    private let lock = NSLock()
    private var action: (@Sendable () -> Void)?
    private var sources: [DispatchSourceSignal] = []
    private let signals: [Int32]
    private let queue = DispatchQueue(label: "pathtrace.teardown")

    /// After a signal's teardown, `afterSignal` runs (default: die of that signal with its default action,
    /// so a parent sees the usual status).
    public init(
        signals: [Int32] = TeardownGuard.defaultSignals,
        afterSignal: (@Sendable (Int32) -> Void)? = nil,
        teardown: @escaping @Sendable () -> Void
    ) {
        self.signals = signals
        self.action = teardown
        var set = sigset_t()
        sigemptyset(&set)
        for signo in signals { sigaddset(&set, signo) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        for signo in signals {
            signal(signo, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signo, queue: queue)
            source.setEventHandler { [weak self] in
                self?.run()
                if let afterSignal {
                    afterSignal(signo)
                } else {
                    TeardownGuard.dieOf(signo)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Runs the teardown unless it already ran; safe from any thread, returns once it has finished.
    public func run() {
        lock.lock()
        defer { lock.unlock() }
        guard let action else { return }
        self.action = nil
        action()
    }

    /// Whether the teardown has run.
    public var hasRun: Bool {
        lock.lock()
        defer { lock.unlock() }
        return action == nil
    }

    /// Stops listening and restores the default action of the signals (after `run()`, for a clean exit).
    public func disarm() {
        for s in sources { s.cancel() }
        sources = []
        for signo in signals { signal(signo, SIG_DFL) }
    }

    /// Runs `body`, then the teardown, whether `body` returns or throws; signals in between also tear down.
    public static func protect<T>(
        teardown: @escaping @Sendable () -> Void, _ body: (TeardownGuard) throws -> T
    ) rethrows -> T {
        let guardian = TeardownGuard(teardown: teardown)
        defer {
            guardian.run()
            guardian.disarm()
        }
        return try body(guardian)
    }

    static func dieOf(_ signo: Int32) {
        signal(signo, SIG_DFL)
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signo)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
        raise(signo)
        exit(128 + signo)
    }
}
#endif
