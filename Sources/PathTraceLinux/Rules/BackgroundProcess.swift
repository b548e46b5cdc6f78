#if os(Linux)
import Dispatch
import Foundation
import Glibc
import Subprocess
import SystemPackage

/// A program `SystemCommandRunner.start` left running, the leader of a process group of its own.
/// Whoever started it ends it with `stop()` or waits for it, so it never lingers as a zombie.
///
/// swift-subprocess runs it in a task on `AsyncBridge.executor` that ends when the program ends (the
/// library reaps it); `status` is set then.
public final class BackgroundProcess: @unchecked Sendable {
    public let pid: Int32
    private let lock = NSLock()
    private var status: Int32?
    private let ended = DispatchSemaphore(value: 0)

    private init(pid: Int32) { self.pid = pid }

    /// Starts `configuration` with stdin from /dev/null and stdout and stderr into `output` (closed here
    /// once the child has it); returns once it runs, or throws why it could not start.
    static func start(_ configuration: Subprocess.Configuration, output: FileDescriptor) throws -> BackgroundProcess {
        let started = ResultBox<BackgroundProcess>()
        Task(executorPreference: AsyncBridge.executor) {
            var process: BackgroundProcess?
            do {
                let result = try await Subprocess.run(
                    configuration, input: .none, output: .fileDescriptor(output, closeAfterSpawningProcess: true),
                    error: .combinedWithOutput
                ) { execution in
                    let running = BackgroundProcess(pid: execution.processIdentifier.value)
                    process = running
                    started.result = .success(running)
                    started.done.signal()
                }
                process?.finish(SystemCommandRunner.status(result.terminationStatus))
            } catch {
                if let process {
                    process.finish(-1)
                } else {
                    started.result = .failure(SystemCommandRunner.failure(error, configuration))
                    started.done.signal()
                }
            }
        }
        started.done.wait()
        guard let result = started.result else { throw LinuxError.failed(operation: "start", errno: EIO) }
        return try result.get()
    }

    private func finish(_ status: Int32) {
        lock.withLock { self.status = status }
        ended.signal()
    }

    /// Whether it still runs.
    public var isRunning: Bool { lock.withLock { status == nil } }

    /// Sends `signo` to its process group (so a `timeout` it runs under takes its child along), unless
    /// it ended already: its pid may belong to someone else by then. (Between the library reaping it and
    /// `finish` lie a few instructions; a pid is not reused that fast.)
    public func signal(_ signo: Int32) {
        lock.withLock {
            if status == nil { _ = kill(-pid, signo) }
        }
    }

    /// Waits for it to end; returns its exit status, 128 + N after signal N.
    @discardableResult
    public func wait() -> Int32 {
        ended.wait()
        ended.signal()
        return lock.withLock { status } ?? -1
    }

    /// SIGTERM, then SIGKILL when it is still there after `grace` seconds; returns how it ended.
    @discardableResult
    public func stop(grace: Double = 2) -> Int32 {
        signal(SIGTERM)
        if ended.wait(timeout: .now() + grace) == .success {
            ended.signal()
        } else {
            signal(SIGKILL)
        }
        return wait()
    }
}
#endif
