#if os(Linux)
import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import Testing

/// Records every command; fails the install commands whose argv contains `failOn`; sysctls live in a dictionary.
final class FakeRunner: CommandRunning, @unchecked Sendable {
    private let lock = NSLock()
    private(set) var log: [[String]] = []
    var failOn: String?
    var present: Set<[String]> = []
    var files: [String: String] = [
        "/proc/sys/net/netfilter/nf_log/2": "nf_log_ipv4", "/proc/sys/net/netfilter/nf_log/10": "NONE",
    ]
    /// Standard output of other commands, by argv joined with spaces (`iptables-legacy-save`).
    var outputs: [String: String] = [:]

    func run(_ command: PlannedCommand, in namespace: TraceNamespace) throws -> CommandResult {
        lock.lock()
        defer { lock.unlock() }
        let argv = command.argv
        log.append(argv)
        switch argv.first {
        case "cat": return CommandResult(status: 0, stdout: (files[argv[1]] ?? "") + "\n")
        case "tee":
            files[argv[1]] = command.stdin?.split(separator: "\n").first.map(String.init)
            return CommandResult(status: 0)
        default:
            if let out = outputs[argv.joined(separator: " ")] { return CommandResult(status: 0, stdout: out) }
        }
        if let failOn, argv.contains(failOn) { return CommandResult(status: 1, stderr: "iptables: No chain\n") }
        if let i = argv.firstIndex(where: { ["-I", "-D", "-C"].contains($0) }) {
            var key = argv
            key.remove(at: i)
            if argv[i] == "-I" {
                present.insert(key)
                return CommandResult(status: 0)
            }
            if argv[i] == "-D" { return CommandResult(status: present.remove(key) == nil ? 1 : 0) }
            return CommandResult(status: present.contains(key) ? 0 : 1)
        }
        return CommandResult(status: 0)
    }
}

private func tempDir() -> URL {
    URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("pathtrace-unit-\(UUID())")
}

@Suite(.offPool) struct RuleInstallerTests {
    let id = SessionID("feed01") ?? .random()

    /// Rules added to a running session (the replies of a DNAT) are recorded and removed with the rest, first.
    @Test func addedRulesAreRecordedAndRemovedFirst() throws {
        let fake = FakeRunner()
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = SessionStateStore(directory: dir, id: id)
        let installer = RuleInstaller(namespace: .current, runner: fake, store: store)
        var f = WalkFilter()
        f.proto = IPProtocol.tcp
        f.dport = PortRange("8080")
        let plan = try TraceRulePlan.make(filter: f, backend: .legacy, session: id, families: [.ipv4])
        #expect(throws: LinuxError.self) { try installer.add([]) }
        try installer.install(plan)
        let source = NatReplySource(
            family: .ipv4, proto: IPProtocol.tcp, address: IPAddress("172.17.0.2") ?? IPAddress(v4: 0), port: 80,
            type: .dnat)
        let extra = try plan.replyRules(from: source, index: 1)
        try installer.add(extra)
        #expect(installer.installedRules.count == plan.rules.count + 2)
        let saved = try SessionStateStore.load(store.url)
        #expect(saved.rules.map(\.remove) == (plan.rules + extra).map(\.remove))
        let before = fake.log.count
        let report = installer.removeAll()
        #expect(report.removed.count == plan.rules.count + 2 && report.isComplete)
        #expect(Array(fake.log[before..<before + 2]) == extra.reversed().map(\.remove.argv))
        #expect(throws: LinuxError.self) { try installer.add(extra) }
    }

    @Test func installsSysctlsFirstAndRemovesInReverse() throws {
        let fake = FakeRunner()
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = SessionStateStore(directory: dir, id: id)
        let installer = RuleInstaller(namespace: .current, runner: fake, store: store)
        let plan = try TraceRulePlan.make(filter: WalkFilter(), backend: .legacy, session: id)
        try installer.install(plan)
        #expect(fake.files["/proc/sys/net/netfilter/nf_log/2"] == "nfnetlink_log")
        let record = try SessionStateStore.load(store.url)
        #expect(record.sysctls.map(\.old) == ["nf_log_ipv4", "NONE"])
        #expect(record.rules.count == 4)
        // Sysctls are read and set before the first rule goes in.
        #expect(fake.log.prefix(4).map { $0[0] } == ["cat", "tee", "cat", "tee"])

        let report = installer.removeAll()
        #expect(
            report.removed.map { String($0.prefix(19)) } == [
                "ipv6 raw:OUTPUT: ip", "ipv6 raw:PREROUTING", "ipv4 raw:OUTPUT: ip", "ipv4 raw:PREROUTING",
            ])
        #expect(report.restored == ["net.netfilter.nf_log.10 = NONE", "net.netfilter.nf_log.2 = nf_log_ipv4"])
        #expect(fake.files["/proc/sys/net/netfilter/nf_log/2"] == "nf_log_ipv4")
        #expect(fake.files["/proc/sys/net/netfilter/nf_log/10"] == "NONE")
        #expect(fake.present.isEmpty)
        #expect(!FileManager.default.fileExists(atPath: store.url.path))
    }

    @Test func failureMidwayRollsBackAndRethrows() throws {
        let fake = FakeRunner()
        let plan = try TraceRulePlan.make(filter: WalkFilter(), backend: .legacy, session: id)
        fake.failOn = "ip6tables-legacy"
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let installer = RuleInstaller(
            namespace: .current, runner: fake, store: SessionStateStore(directory: dir, id: id))
        #expect(
            throws: LinuxError.commandFailed(
                argv: plan.rules[2].install.argv, status: 1, stderr: "iptables: No chain\n")
        ) {
            try installer.install(plan)
        }
        #expect(fake.present.isEmpty)
        #expect(fake.files["/proc/sys/net/netfilter/nf_log/2"] == "nf_log_ipv4")
        #expect(fake.files["/proc/sys/net/netfilter/nf_log/10"] == "NONE")
        #expect(SessionStateStore.files(in: dir).isEmpty)
        // After a teardown the installer refuses to continue.
        #expect(throws: LinuxError.cancelled) { try installer.install(plan) }
    }

    @Test func missingBinariesNameTheDebianPackage() throws {
        let runner = SystemCommandRunner(searchPath: ["/nonexistent"])
        #expect(throws: LinuxError.missingBinary("iptables-legacy", package: "iptables")) {
            try runner.run(PlannedCommand(["iptables-legacy", "-L"]), in: .current)
        }
        #expect(throws: LinuxError.missingBinary("ip6tables-legacy-save", package: "iptables")) {
            try runner.run(PlannedCommand(["ip6tables-legacy-save"]), in: .current)
        }
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let installer = RuleInstaller(
            namespace: .current, runner: runner, store: SessionStateStore(directory: dir, id: id))
        let plan = try TraceRulePlan.make(filter: WalkFilter(), backend: .nft, session: id)
        #expect(throws: LinuxError.missingBinary("nft", package: "nftables")) { try installer.install(plan) }
        #expect(SessionStateStore.files(in: dir).isEmpty)
        #expect(
            LinuxError.missingBinary("nft", package: "nftables").description
                == "nft not found; install the Debian package 'nftables' (apt-get install nftables)")
        #expect(SystemCommandRunner.debianPackage(for: "ip") == "iproute2")
    }

    @Test func systemRunnerPassesArgvAndStdinUnchanged() throws {
        let runner = SystemCommandRunner()
        let r = try runner.run(PlannedCommand(["printf", "%s|", "a b", "$(id)", "x;y"]), in: .current)
        #expect(r.stdout == "a b|$(id)|x;y|")
        let cat = try runner.run(
            PlannedCommand(["cat"], stdin: String(repeating: "z", count: 200_000)), in: .current)
        #expect(cat.stdout.count == 200_000)
        let fail = try runner.run(PlannedCommand(["sh", "-c", "echo oops >&2; exit 3"]), in: .current)
        #expect(fail == CommandResult(status: 3, stdout: "", stderr: "oops\n"))
        // One that exits without reading its input is judged by its status, not by the broken pipe.
        let early = try runner.run(
            PlannedCommand(
                ["sh", "-c", "echo bad line 1 >&2; exit 2"], stdin: String(repeating: "z\n", count: 500_000)),
            in: .current)
        #expect(early == CommandResult(status: 2, stdout: "", stderr: "bad line 1\n"))
    }

    /// A program pathtrace runs holds only its stdin, stdout and stderr: not a descriptor another thread
    /// opened meanwhile (a netlink socket, the state file), even one opened without O_CLOEXEC.
    @Test func programsInheritOnlyTheirStandardDescriptors() throws {
        let leaky = open("/dev/null", O_RDONLY)
        #expect(leaky > 2)
        defer { close(leaky) }
        let listing = try SystemCommandRunner().runChecked(PlannedCommand(["ls", "/proc/self/fd"]), in: .current)
        // 3 is the directory ls itself opened to list.
        #expect(listing.stdout.split(separator: "\n") == ["0", "1", "2", "3"])
    }

    @Test func systemRunnerStartsInTheBackgroundAndStops() throws {
        let runner = SystemCommandRunner()
        let output = tempDir().path
        defer { try? FileManager.default.removeItem(atPath: output) }
        let done = try runner.start(["sh", "-c", "echo out; echo err >&2; exit 4"], in: .current, output: output)
        #expect(done.wait() == 4 && !done.isRunning)
        #expect(try String(contentsOfFile: output, encoding: .utf8) == "out\nerr\n")

        // SIGTERM reaches it although the test runner blocks it.
        let sleeper = try runner.start(["sleep", "30"], in: .current)
        #expect(sleeper.isRunning)
        #expect(sleeper.stop() == 128 + SIGTERM)
        // One that ignores SIGTERM is killed once the grace period is over.
        let stubborn = try runner.start(
            ["sh", "-c", "trap '' TERM; echo ready; exec sleep 30"], in: .current, output: output)
        let deadline = Date().addingTimeInterval(5)
        while (try? String(contentsOfFile: output, encoding: .utf8)) != "ready\n" && Date() < deadline {
            usleep(10_000)
        }
        #expect(stubborn.stop(grace: 0.2) == 128 + SIGKILL)
        #expect(throws: LinuxError.missingBinary("no-such-program", package: "no-such-program")) {
            try runner.start(["no-such-program"], in: .current)
        }
        // A program the kernel refuses to run (a directory passes the X_OK check) is an error, for both ways.
        #expect(throws: LinuxError.self) { try runner.start(["/tmp"], in: .current) }
        #expect(throws: LinuxError.self) { try runner.run(PlannedCommand(["/tmp"]), in: .current) }
    }

    @Test func cleanupSkipsLiveSessionsAndUndoesDeadOnes() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let fake = FakeRunner()
        let plan = try TraceRulePlan.make(filter: WalkFilter(), backend: .legacy, session: id, families: [.ipv4])
        let installer = RuleInstaller(
            namespace: .current, runner: fake, store: SessionStateStore(directory: dir, id: id))
        try installer.install(plan)
        // This process is alive: left alone.
        let live = SessionCleanup.cleanup(directory: dir, runner: fake)
        #expect(live.sessions.first?.skipped == "pid \(getpid()) is still running (stop it, or use --all)")
        #expect(fake.present.count == 2)
        // Pretend the session died: a pid beyond pid_max.
        let url = SessionStateStore(directory: dir, id: id).url
        var record = try SessionStateStore.load(url)
        record.pid = Int32.max - 1
        try SessionStateStore(directory: dir, id: id).write(record)
        let report = SessionCleanup.cleanup(directory: dir, runner: fake)
        #expect(fake.present.isEmpty)
        #expect(fake.files["/proc/sys/net/netfilter/nf_log/2"] == "nf_log_ipv4")
        #expect(
            report.summary.hasPrefix(
                "session feed01 (legacy, current netns, pid \(Int32.max - 1)): removed 2 rules, restored 1 sysctl\n"
            ))
        #expect(report.summary.contains("  restored net.netfilter.nf_log.2 = nf_log_ipv4\n"))
        #expect(SessionStateStore.files(in: dir).isEmpty)
    }

    @Test func cleanupOfAVanishedNamespaceJustForgetsIt() throws {
        let dir = tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        var record = SessionRecord(
            id: id, namespace: .named("ptr-never-existed-x"), backend: .nft, pid: Int32.max - 1)
        record.rules = [
            .init(
                label: "nft inet pathtrace_feed01", remove: PlannedCommand(["nft"]), check: PlannedCommand(["nft"]),
                installed: true)
        ]
        try SessionStateStore(directory: dir, id: id).write(record)
        let fake = FakeRunner()
        let report = SessionCleanup.cleanup(directory: dir, runner: fake)
        #expect(fake.log.isEmpty)
        #expect(report.sessions.first?.removal.namespaceGone == true)
        #expect(report.summary.contains("the namespace is gone"))
        #expect(SessionStateStore.files(in: dir).isEmpty)
    }
}

@Suite struct CapabilityTests {
    static let rootStatus = """
        Name:\tcat
        Uid:\t0\t0\t0\t0
        CapInh:\t0000000000000000
        CapPrm:\t000001ffffffffff
        CapEff:\t000001ffffffffff
        CapBnd:\t000001ffffffffff
        """

    @Test func parsesCapEff() {
        #expect(Capabilities.effective(statusText: CapabilityTests.rootStatus) == 0x1ff_ffff_ffff)
        #expect(Capabilities.hasNetAdmin(statusText: CapabilityTests.rootStatus))
        let onlyNetAdmin = "CapEff:\t0000000000001000\n"
        #expect(Capabilities.hasNetAdmin(statusText: onlyNetAdmin))
        let allButNetAdmin = "CapEff:\t000001ffffffefff\n"
        #expect(!Capabilities.hasNetAdmin(statusText: allButNetAdmin))
        #expect(!Capabilities.hasNetAdmin(statusText: "CapEff:\t0000000000000000\n"))
        #expect(!Capabilities.hasNetAdmin(statusText: "Name: x\n"))
    }
}

@Suite struct TeardownGuardTests {
    @Test func runsExactlyOnceAcrossThreads() async {
        let count = Counter()
        let guardian = TeardownGuard(signals: []) { count.bump() }
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<16 { group.addTask { guardian.run() } }
        }
        #expect(count.value == 1)
        #expect(guardian.hasRun)
    }

    @Test func protectTearsDownOnThrow() {
        struct Boom: Error {}
        let count = Counter()
        #expect(throws: Boom.self) {
            try TeardownGuard.protect(teardown: { count.bump() }) { _ in throw Boom() }
        }
        #expect(count.value == 1)
        let value = TeardownGuard.protect(teardown: { count.bump() }) { _ in 42 }
        #expect(value == 42 && count.value == 2)
    }
}

final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    var value: Int {
        lock.lock()
        defer { lock.unlock() }
        return n
    }
    func bump() {
        lock.lock()
        n += 1
        lock.unlock()
    }
    func set(_ v: Int) {
        lock.lock()
        n = v
        lock.unlock()
    }
}
#endif
