#if os(Linux)
import Foundation

/// A task executor with one thread of its own, outside Swift's cooperative pool: synchronous code that
/// waits for async work (`AsyncBridge.wait`) must not occupy the pool that work needs, and a test that
/// blocks in library calls runs on one of these (`withTaskExecutorPreference`), not on a pool thread.
///
/// `AsyncBridge.executor` only runs short slices of async work (the callers block on threads of their
/// own); a test's executor runs the test's body, blocking calls and all, on its one thread.
public final class ThreadExecutor: TaskExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var stopping = false

    /// Starts the thread, named `name` (as `ps -L` and a debugger show it).
    public init(name: String) {
        // The thread holds the executor until `shutdown()` lets its loop end.
        let thread = Thread { self.loop() }
        thread.name = name
        thread.start()
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.withLock {
            jobs.append(job)
            condition.signal()
        }
    }

    /// Lets the thread end once the jobs already queued have run; later jobs are never run.
    public func shutdown() {
        condition.withLock {
            stopping = true
            condition.signal()
        }
    }

    private func loop() {
        while true {
            let next: UnownedJob? = condition.withLock {
                while jobs.isEmpty && !stopping { condition.wait() }
                return jobs.isEmpty ? nil : jobs.removeFirst()
            }
            guard let next else { return }
            next.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
#endif
