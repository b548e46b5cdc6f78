#if os(Linux)
import PathTraceLinux
import Testing

/// Runs each test of a suite on a thread of its own instead of Swift's cooperative pool.
///
/// Live tests call the library's synchronous API, which blocks while swift-subprocess runs a program,
/// and that library needs a free pool thread for each run; with the pool's two threads blocked in two
/// suites at once it would never get one (see `AsyncBridge`). Off the pool, a blocked test blocks only
/// its own thread.
struct OffPoolTrait: SuiteTrait, TestTrait, TestScoping {
    var isRecursive: Bool { true }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // A suite's own scope has nothing to run off the pool: only its tests do.
        guard testCase != nil else { return try await function() }
        try await OffPoolTrait.run(test.name) { try await function() }
    }

    /// Runs `body` on a fresh `ThreadExecutor`, which ends with it.
    static func run(_ name: String, _ body: () async throws -> Void) async throws {
        let executor = ThreadExecutor(name: "test \(name)")
        defer { executor.shutdown() }
        try await withTaskExecutorPreference(executor) { try await body() }
    }
}

extension Trait where Self == OffPoolTrait {
    /// Runs the suite's tests, or the test, off the cooperative pool.
    static var offPool: Self { OffPoolTrait() }
}
#endif
