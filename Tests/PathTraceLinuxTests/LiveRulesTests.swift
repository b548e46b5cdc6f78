#if os(Linux)
import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import TestSupport
import Testing

private func dport3128() -> WalkFilter {
    var f = WalkFilter()
    f.proto = IPProtocol.tcp
    f.dport = PortRange("3128")
    return f
}

/// Install and remove for real, in throw-away `ptr…` namespaces loaded with a 65 + 16 rule legacy ruleset
/// (user chains in every table) and a native nft table; the initial namespace is never touched.
@Suite(.serialized, .offPool, .enabled(if: Live.available, "needs root, CAP_NET_ADMIN, iproute2, iptables, nftables"))
struct LiveRulesTests {
    @Test(.liveNetns, arguments: TraceBackend.allCases)
    func installThenRemoveLeavesRulesetAndSysctlsByteIdentical(backend: TraceBackend) throws {
        let ns = LiveNetnsTrait.name
        try Live.loadFixtureRuleset(in: ns)
        if backend == .kmsg {
            // Unbound loggers, so that the session has something to set and restore.
            for pf in ["2", "10"] {
                try Live.run(["tee", "/proc/sys/net/netfilter/nf_log/" + pf], in: ns, stdin: "NONE\n")
            }
        }
        let before = try Live.snapshot(ns)
        #expect(before.iptables.split(separator: "\n").filter { $0.hasPrefix("-A ") }.count >= 50)
        #expect(before.nfLog2 == (backend == .kmsg ? "NONE\n" : "nf_log_ipv4\n"))

        let dir = Live.stateDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let id = SessionID.random()
        let store = SessionStateStore(directory: dir, id: id)
        let installer = RuleInstaller(namespace: .named(ns), store: store)
        let chains = backend == .nflog ? try installer.discoverChains(families: TraceFamily.allCases) : []
        let plan = try TraceRulePlan.make(
            filter: dport3128(), backend: backend, session: id, nflogGroup: 5, chains: chains)
        try installer.install(plan)
        defer { installer.removeAll() }

        let during = try Live.snapshot(ns)
        let record = try SessionStateStore.load(store.url)
        #expect(record.namespace == ns)
        #expect(record.backend == backend)
        #expect(record.pid == getpid())
        #expect(record.rules.count == plan.rules.count && record.rules.allSatisfy(\.installed))
        #expect(record.rules.map(\.remove) == plan.rules.map(\.remove))
        switch backend {
        case .legacy:
            #expect(plan.rules.count == 4)
            #expect(
                during.iptables.contains(
                    "-A PREROUTING -p tcp -m tcp --dport 3128 -m comment --comment \"pathtrace:\(id)\" -m limit --limit 100/sec -j TRACE"
                ))
            #expect(during.ip6tables.contains("--comment \"pathtrace:\(id)\""))
            #expect(during.nfLog2 == "nfnetlink_log\n" && during.nfLog10 == "nfnetlink_log\n")
            #expect(record.sysctls.map(\.old) == ["nf_log_ipv4", "nf_log_ipv6"])
        case .kmsg:
            // The same TRACE rules as legacy; the loggers print to the kernel log instead.
            #expect(plan.rules.count == 4)
            #expect(during.iptables.contains("--comment \"pathtrace:\(id)\" -m limit --limit 100/sec -j TRACE"))
            #expect(during.nfLog2 == "nf_log_ipv4\n" && during.nfLog10 == "nf_log_ipv6\n")
            #expect(record.sysctls.map(\.old) == ["NONE", "NONE"])
        case .nft:
            #expect(during.nft.contains("table inet pathtrace_\(id) {"))
            #expect(during.nft.contains("priority raw - 1"))
            #expect(during.nft.contains("meta nftrace set 1"))
            #expect(during.nfLog2 == before.nfLog2 && during.iptables == before.iptables)
        case .mixed:
            // The nft marking table, and the legacy loggers bound to nfnetlink_log; no TRACE rule.
            #expect(plan.rules.count == 1)
            #expect(during.nft.contains("table inet pathtrace_\(id) {") && during.nft.contains("meta nftrace set 1"))
            #expect(during.iptables == before.iptables && during.ip6tables == before.ip6tables)
            #expect(during.nfLog2 == "nfnetlink_log\n" && during.nfLog10 == "nfnetlink_log\n")
            #expect(record.sysctls.map(\.old) == ["nf_log_ipv4", "nf_log_ipv6"])
        case .nflog:
            // One NFLOG rule at the head of every chain (25 IPv4 chains and 18 IPv6 chains in the fixture),
            // the mark saved to and restored from the connection in every built-in chain after raw, and
            // the filter selecting in raw PREROUTING and OUTPUT of both families.
            #expect(chains.count == 43)
            let afterRaw = chains.filter { $0.isBuiltin && $0.table != "raw" }.count
            #expect(plan.rules.count == 43 + 2 * afterRaw + 2 * 2)
            #expect(during.iptables.contains("-j MARK --set-xmark 0x20000000/0x20000000"))
            #expect(during.iptables.contains("-j CONNMARK --set-xmark 0x20000000/0x20000000"))
            let v4 = during.iptables.split(separator: "\n").filter { $0.contains("-j NFLOG") }
            #expect(v4.count == 25)
            #expect(
                v4.contains {
                    $0.hasPrefix("-A NOTRACK-LAN -m mark --mark 0x20000000/0x20000000 ")
                        && $0.contains("--nflog-prefix \"pt:raw:NOTRACK-LAN\" --nflog-group 5")
                })
            #expect(during.ip6tables.split(separator: "\n").filter { $0.contains("-j NFLOG") }.count == 18)
        }

        let report = installer.removeAll()
        #expect(report.isComplete)
        #expect(report.removed.count == plan.rules.count)
        #expect(report.restored.count == plan.sysctls.count)
        let after = try Live.snapshot(ns)
        #expect(after.iptables == before.iptables)
        #expect(after.ip6tables == before.ip6tables)
        #expect(after.nft == before.nft)
        #expect(after.nfLog2 == before.nfLog2)
        #expect(after.nfLog10 == before.nfLog10)
        #expect(!FileManager.default.fileExists(atPath: store.url.path))
        // A second teardown is a no-op.
        #expect(installer.removeAll() == RemovalReport())
    }

    @Test(.liveNetns) func failureMidwayRemovesWhatWasAdded() throws {
        let ns = LiveNetnsTrait.name
        try Live.loadFixtureRuleset(in: ns)
        let before = try Live.snapshot(ns)
        let dir = Live.stateDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let id = SessionID.random()
        var plan = try TraceRulePlan.make(filter: dport3128(), backend: .legacy, session: id)
        // The third rule goes to a chain that does not exist: the kernel refuses it.
        plan.rules[2].install.argv[5] = "NO-SUCH-CHAIN"
        let installer = RuleInstaller(namespace: .named(ns), store: SessionStateStore(directory: dir, id: id))
        #expect {
            try installer.install(plan)
        } throws: { error in
            guard case .commandFailed(let argv, _, _) = error as? LinuxError else { return false }
            return argv.contains("NO-SUCH-CHAIN")
        }
        #expect(try Live.snapshot(ns) == before)
        #expect(SessionStateStore.files(in: dir).isEmpty)
        #expect(installer.installedRules.isEmpty)
    }

    @Test(.liveNetns, arguments: [TraceBackend.legacy, .nft, .mixed])
    func cleanupAfterSigkillRestoresEverything(backend: TraceBackend) throws {
        let ns = LiveNetnsTrait.name
        let session = try HelperSession(ns: ns, backend: backend, ["--dport", "3128", "--no-guard"])
        defer { session.finish() }
        let (before, dir, id, helper) = (session.before, session.dir, session.id, session.helper)
        #expect(helper.firstLine == (backend == .legacy ? "installed 4" : "installed 1"))
        #expect(try Live.snapshot(ns) != before)

        // A session that is still running is left alone unless --all.
        let early = SessionCleanup.cleanup(directory: dir)
        #expect(early.sessions.map(\.skipped) == ["pid \(helper.pid) is still running (stop it, or use --all)"])
        #expect(try Live.snapshot(ns) != before)

        let (status, _, _) = helper.signal(SIGKILL)
        #expect(status == SIGKILL)
        #expect(SessionStateStore.files(in: dir).count == 1)

        let report = SessionCleanup.cleanup(directory: dir)
        #expect(!report.hasFailures)
        #expect(report.sessions.count == 1 && report.sessions[0].finished)
        let summary = report.summary
        #expect(summary.contains("session \(id) (\(backend.rawValue), netns \(ns), pid \(helper.pid))"))
        if backend == .legacy {
            #expect(summary.contains("removed 4 rules, restored 2 sysctls"))
            #expect(summary.contains("removed ipv4 raw:PREROUTING: iptables-legacy -w -t raw -D PREROUTING"))
            #expect(summary.contains("removed ipv6 raw:OUTPUT: ip6tables-legacy -w -t raw -D OUTPUT"))
            #expect(summary.contains("restored net.netfilter.nf_log.2 = nf_log_ipv4"))
            #expect(summary.contains("restored net.netfilter.nf_log.10 = nf_log_ipv6"))
        } else {
            // mixed: the nft marking table, and the loggers it bound to nfnetlink_log.
            let sysctls = backend == .mixed ? "2 sysctls" : "0 sysctls"
            #expect(summary.contains("removed 1 rule, restored \(sysctls)"))
            #expect(summary.contains("removed nft inet pathtrace_\(id): nft delete table inet pathtrace_\(id)"))
            if backend == .mixed { #expect(summary.contains("restored net.netfilter.nf_log.2 = nf_log_ipv4")) }
        }
        #expect(try Live.snapshot(ns) == before)
        #expect(SessionStateStore.files(in: dir).isEmpty)
        #expect(SessionCleanup.cleanup(directory: dir).summary == "nothing to clean up\n")
    }

    @Test(.liveNetns) func cleanupAllAcceptsRulesAlreadyGone() throws {
        let ns = LiveNetnsTrait.name
        let session = try HelperSession(ns: ns, backend: .legacy, [])
        defer { session.finish() }
        let (before, dir, id, helper) = (session.before, session.dir, session.id, session.helper)
        #expect(helper.firstLine == "installed 4")
        // Someone deletes one rule by hand first.
        try Live.run(
            [
                "iptables-legacy", "-w", "-t", "raw", "-D", "OUTPUT", "-m", "comment", "--comment",
                "pathtrace:\(id)",
                "-m", "limit", "--limit", "100/second", "-j", "TRACE",
            ], in: ns)
        let report = SessionCleanup.cleanup(all: true, directory: dir)
        #expect(!report.hasFailures)
        #expect(report.sessions.first?.removal.alreadyGone == ["ipv4 raw:OUTPUT"])
        #expect(report.summary.contains("removed 3 rules, 1 already gone, restored 2 sysctls"))
        #expect(try Live.snapshot(ns) == before)
        // The helper's own teardown then finds nothing left and still exits cleanly.
        let (status, out, _) = helper.signal(SIGTERM)
        #expect(status == 0)
        #expect(out.contains("torn down after signal \(SIGTERM)"))
        #expect(try Live.snapshot(ns) == before)
    }

    @Test(.liveNetns, arguments: [SIGINT, SIGTERM, SIGHUP])
    func signalTearsDown(signo: Int32) throws {
        let ns = LiveNetnsTrait.name
        let session = try HelperSession(ns: ns, backend: .legacy, ["--dport", "3128"])
        defer { session.finish() }
        let (before, dir, id, helper) = (session.before, session.dir, session.id, session.helper)
        #expect(helper.firstLine == "installed 4")
        let during = try Live.snapshot(ns)
        #expect(during.nfLog2 == "nfnetlink_log\n")
        #expect(during.iptables.contains("pathtrace:\(id)"))
        let (status, out, err) = helper.signal(signo)
        #expect(status == 0, "\(err)")
        #expect(out.contains("torn down after signal \(signo)"))
        #expect(try Live.snapshot(ns) == before)
        #expect(SessionStateStore.files(in: dir).isEmpty)
    }

    @Test func setprivWithoutCapabilitiesHasNoNetAdmin() throws {
        #expect(Capabilities.hasNetAdmin())
        let result = try Live.run([
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "cat", "/proc/self/status",
        ])
        #expect(Capabilities.effective(statusText: result.stdout) == 0)
        #expect(!Capabilities.hasNetAdmin(statusText: result.stdout))
        // The same check the CLI makes before installing anything (it then exits 4).
        let dropped = try Live.run([
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", Live.helper, "caps",
        ])
        #expect(dropped.stdout == "net_admin=no\n")
        #expect(try Live.run([Live.helper, "caps"]).stdout == "net_admin=yes\n")
    }
}
#endif
