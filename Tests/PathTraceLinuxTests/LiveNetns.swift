#if os(Linux)
import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import TestSupport
import Testing

/// Live tests need root (CAP_NET_ADMIN) and the Debian tools; they skip cleanly elsewhere.
enum Live {
    static let runner = SystemCommandRunner()

    static var available: Bool {
        getuid() == 0 && Capabilities.hasNetAdmin()
            && ["ip", "iptables-legacy", "ip6tables-legacy", "nft", "setpriv"].allSatisfy {
                (try? runner.resolve($0)) != nil
            }
    }

    /// Six hex digits shared by every namespace of this test run: `ptr<run><n>-ns`.
    static let runID: String = {
        let hex = String(UInt32.random(in: 0...0xFF_FFFF), radix: 16)
        return String(repeating: "0", count: 6 - hex.count) + hex
    }()

    nonisolated(unsafe) private static var counter = 0
    private static let counterLock = NSLock()

    /// 0, 1, 2, …: what tells apart the namespaces one test process creates.
    static func next() -> Int {
        counterLock.withLock {
            defer { counter += 1 }
            return counter
        }
    }

    /// Runs `argv` in the namespace `ns` (or the current one); throws unless it exits 0.
    @discardableResult
    static func run(_ argv: [String], in ns: String? = nil, stdin: String? = nil) throws -> CommandResult {
        try runner.runChecked(PlannedCommand(argv, stdin: stdin), in: ns.map { .named($0) } ?? .current)
    }

    /// Loads the ≥ 50-rule fixture (IPv4 and IPv6, user chains in every table) and a native nft table.
    static func loadFixtureRuleset(in ns: String) throws {
        try run(["iptables-legacy-restore", "-w"], in: ns, stdin: Fixtures.text("rulesets/live-base.rules"))
        try run(["ip6tables-legacy-restore", "-w"], in: ns, stdin: Fixtures.text("rulesets/live-base.rules6"))
        try run(["nft", "-f", "-"], in: ns, stdin: Fixtures.text("rulesets/live-base.nft"))
    }

    /// Everything the tests promise to leave as it was, as text.
    struct Snapshot: Equatable {
        var iptables: String
        var ip6tables: String
        var nft: String
        var nfLog2: String
        var nfLog10: String
    }

    /// `iptables-legacy-save` (no -c) without its `# Generated`/`# Completed` lines, `nft list ruleset`
    /// and the two nf_log sysctls, all read inside the namespace.
    static func snapshot(_ ns: String) throws -> Snapshot {
        func save(_ bin: String) throws -> String {
            try run([bin], in: ns).stdout.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.hasPrefix("# Generated") && !$0.hasPrefix("# Completed") }.joined(separator: "\n")
        }
        return Snapshot(
            iptables: try save("iptables-legacy-save"), ip6tables: try save("ip6tables-legacy-save"),
            nft: try run(["nft", "list", "ruleset"], in: ns).stdout,
            nfLog2: try run(["cat", "/proc/sys/net/netfilter/nf_log/2"], in: ns).stdout,
            nfLog10: try run(["cat", "/proc/sys/net/netfilter/nf_log/10"], in: ns).stdout)
    }

    /// A fresh, empty state directory under /tmp.
    static func stateDirectory() -> URL {
        URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pathtrace-state-\(runID)-\(UUID())")
    }

    /// The helper executable, built beside the test bundle.
    static var helper: String {
        if let path = ProcessInfo.processInfo.environment["PATHTRACE_TEST_HELPER"] { return path }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        return URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("pathtrace-test-helper")
            .path
    }
}

/// Creates one `ptr…` namespace for the test, as a one-namespace lab, and always deletes it, also when
/// the test fails or throws; a namespace still listed after that fails the test.
struct LiveNetnsTrait: TestTrait, TestScoping {
    @TaskLocal static var name: String = ""

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        try await OffPoolTrait.run(test.name) {
            let lab = LabBuilder(spec: try .live(prefix: "ptr\(Live.runID)\(Live.next())", #"{"namespaces": ["ns"]}"#))
            try lab.up()
            defer {
                lab.down()
                // What a user checks after a run: the namespace is gone (other suites' may be up now).
                let left = (try? Live.run(["ip", "netns", "list"]).stdout) ?? ""
                if left.split(separator: "\n").contains(where: {
                    $0.split(separator: " ").first == "\(lab.spec.netns("ns"))"
                }) {
                    Issue.record("namespace \(lab.spec.netns("ns")) was left behind")
                }
            }
            try await LiveNetnsTrait.$name.withValue(lab.spec.netns("ns")) { try await function() }
        }
    }
}

extension Trait where Self == LiveNetnsTrait {
    /// Runs the test inside the scope of a fresh `ptr…` namespace, read through `LiveNetnsTrait.name`.
    static var liveNetns: Self { LiveNetnsTrait() }
}

/// `pathtrace-test-helper install` in a namespace loaded with the fixture ruleset, with its own
/// state directory: the ruleset as it was before, and the helper once it reported its rules.
struct HelperSession {
    let before: Live.Snapshot
    let dir: URL
    let id = SessionID.random()
    let helper: HelperProcess

    init(ns: String, backend: TraceBackend, _ extra: [String]) throws {
        try Live.loadFixtureRuleset(in: ns)
        before = try Live.snapshot(ns)
        dir = Live.stateDirectory()
        helper = try HelperProcess(
            ["install", "--netns", ns, "--backend", backend.rawValue, "--id", id.rawValue, "--state-dir", dir.path]
                + extra)
    }

    /// Kills the helper if it still runs and removes the state directory.
    func finish() {
        helper.stop()
        try? FileManager.default.removeItem(at: dir)
    }
}

/// A running `pathtrace-test-helper install …`, waited for until it reported "installed N".
final class HelperProcess {
    let process = Process()
    let out = Pipe()
    let err = Pipe()
    var firstLine = ""

    init(_ arguments: [String]) throws {
        process.executableURL = URL(fileURLWithPath: Live.helper)
        process.arguments = arguments
        process.standardOutput = out
        process.standardError = err
        try process.run()
        var data = Data()
        while !data.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            data += chunk
        }
        firstLine = String(decoding: data, as: UTF8.self).split(separator: "\n").first.map(String.init) ?? ""
    }

    var pid: Int32 { process.processIdentifier }

    /// Sends `signo`, waits, and returns (status, rest of stdout, stderr).
    func signal(_ signo: Int32) -> (Int32, String, String) {
        kill(pid, signo)
        process.waitUntilExit()
        let rest = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (process.terminationStatus, rest, errText)
    }

    /// Kills the helper if a test left it running.
    func stop() {
        if process.isRunning {
            kill(pid, SIGKILL)
            process.waitUntilExit()
        }
    }
}
#endif
