#if os(Linux)
import Dispatch

/// Runs async work (swift-subprocess is async only) from the synchronous callers pathtrace has: rule
/// installation, the teardown a signal starts on a Dispatch queue, `pathtrace cleanup`, lab building.
///
/// The work runs on `executor`, a thread outside the cooperative pool, and the caller blocks until it
/// ends. What remains on the pool is swift-subprocess's own unstructured `Task` per run (it does not
/// inherit an executor preference), so a caller must not be a thread of that pool: with every pool
/// thread blocked here, that `Task` never runs (measured: two blocked pool threads on this 2-core
/// machine deadlock). The CLI calls from its main thread and Dispatch queues; tests run their bodies on
/// a `ThreadExecutor` of their own. A debug build stops on a caller inside a task without an executor
/// preference.
public enum AsyncBridge {
    /// The thread every bridged operation's own slices run on.
    public static let executor = ThreadExecutor(name: "pathtrace.async")

    /// Blocks until `operation` has finished; returns its result or throws its error.
    public static func wait<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) throws -> T {
        assert(!onCooperativePool, "AsyncBridge.wait on a cooperative-pool thread can deadlock")
        let box = ResultBox<T>()
        Task(executorPreference: executor) {
            do {
                box.result = .success(try await operation())
            } catch {
                box.result = .failure(error)
            }
            box.done.signal()
        }
        box.done.wait()
        guard let result = box.result else { fatalError("AsyncBridge: the operation ended without a result") }
        return try result.get()
    }

    /// Whether the caller runs in a task that has no executor of its own (a cooperative-pool thread).
    static var onCooperativePool: Bool {
        withUnsafeCurrentTask { task in
            guard let task else { return false }
            return task.unownedTaskExecutor == nil
        }
    }
}
#endif
