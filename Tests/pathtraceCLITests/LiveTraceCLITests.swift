import Foundation
import TestSupport
import Testing

/// `pathtrace` tracing live in the libvirt-nat lab, as a user runs it: the walk of the SYN, the
/// MASQUERADE with evidence from the reply, and a host left exactly as before.
@Suite(.serialized) struct LiveTraceCLITests {
    /// The lab file with a prefix of this run's own; returns its path and the namespaces' prefix.
    static func labFile(_ name: String = "libvirt-nat") throws -> (String, String) {
        let prefix = "ptcl\(ProcessInfo.processInfo.processIdentifier % 100_000)"
        return (try Fixtures.labFile(name, prefix: prefix), prefix)
    }

    /// Everything a session may touch in a namespace, as text: both rulesets and the nf_log sysctls.
    static func snapshot(_ ns: String) throws -> String {
        var out = ""
        for argv in [
            ["iptables-legacy-save"], ["ip6tables-legacy-save"], ["nft", "list", "ruleset"],
            ["cat", "/proc/sys/net/netfilter/nf_log/2", "/proc/sys/net/netfilter/nf_log/10"],
        ] {
            let r = try Tool.output(["ip", "netns", "exec", ns] + argv)
            // Policy counters ([packets:bytes]) move with any traffic, pathtrace or not: they are not the ruleset.
            out +=
                r.split(separator: "\n").filter { !$0.hasPrefix("# Generated") && !$0.hasPrefix("# Completed") }
                .map { line in line.hasPrefix(":") ? String(line.prefix { $0 != "[" }) : String(line) }
                .joined(separator: "\n") + "\n"
        }
        return out
    }

    static func sendLabTraffic(_ prefix: String) throws -> String {
        let server = try Tool.start([
            "ip", "netns", "exec", "\(prefix)-wan", "timeout", "10", "python3", "-c",
            "import socket\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                + "s.bind(('10.44.32.217',3128));s.listen(1);c,p=s.accept();c.recv(100);c.send(b'ok');c.close()",
        ])
        defer { server.terminate() }
        try Tool.waitForListener(netns: "\(prefix)-wan", port: 3128)
        return try Tool.output([
            "ip", "netns", "exec", "\(prefix)-vm", "timeout", "5", "python3", "-c",
            "import socket;s=socket.create_connection(('10.44.32.217',3128));s.send(b'hi');print(s.recv(10).decode())",
        ])
    }

    /// Starts `pathtrace` and waits (bounded) until it says it is tracing.
    static func startTrace(_ args: [String], environment: [String: String] = [:]) throws -> (Process, Pipe, Pipe) {
        let process = Process()
        process.executableURL = CLI.binary
        process.arguments = args
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        return (process, out, err)
    }

    static func waitForTracing(_ err: Pipe) -> String {
        var seen = ""
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline && !seen.contains("Ctrl-C stops") {
            let chunk = err.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
        }
        return seen
    }

    @Test func legacyTraceOfTheLabShowsTheWalkAndTheMasquerade() throws {
        let (lab, prefix) = try Self.labFile()
        defer { _ = try? CLI.run(["lab", "down", lab]) }
        #expect(try CLI.run(["lab", "up", lab]).status == 0)
        let host = "\(prefix)-host"
        let before = try Self.snapshot(host)
        let saved = NSTemporaryDirectory() + "\(prefix)-events.jsonl"
        defer { try? FileManager.default.removeItem(atPath: saved) }
        let (trace, out, err) = try Self.startTrace([
            "--netns", host, "--dport", "3128", "--count", "2", "--format", "json", "--backend", "legacy",
            "--save", saved,
        ])
        defer { if trace.isRunning { kill(trace.processIdentifier, SIGKILL) } }
        let started = Self.waitForTracing(err)
        #expect(started.contains("tracing in netns \(host) with legacy"))
        #expect(try Self.sendLabTraffic(prefix).contains("ok"))
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        trace.waitUntilExit()
        #expect(trace.terminationStatus == 0)
        let walks = try String(decoding: stdout, as: UTF8.self).split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(walks.count == 2)
        let syn = try #require(walks.first)
        #expect(syn["path"] as? String == "forward")
        #expect(syn["verdict"] as? String == "accept")
        #expect(syn["netns"] as? String == host)
        let steps = try #require(syn["steps"] as? [[String: Any]])
        #expect(
            steps.map { "\($0["table"] ?? ""):\($0["chain"] ?? "")" } == [
                "raw:PREROUTING", "mangle:PREROUTING", "nat:PREROUTING", "mangle:FORWARD", "filter:FORWARD",
                "mangle:POSTROUTING", "nat:POSTROUTING",
            ])
        #expect((steps[4]["rule_text"] as? String)?.contains("-i virbr0 -j ACCEPT") == true)
        let nat = try #require((syn["nat"] as? [[String: Any]])?.first)
        #expect(nat["type"] as? String == "masquerade")
        #expect(nat["after"] as? String == "10.44.0.1:\((syn["flow"] as? [String: Any])?["sport"] as? Int ?? 0)")
        #expect(nat["evidence"] as? String == "reply")
        #expect(walks[1]["reply_to"] as? Int == 1)
        #expect(try Self.snapshot(host) == before)
        // --save: replay reads the events back to the same walks.
        let replayed = try CLI.run(["replay", saved, "--format", "json"])
        #expect(replayed.status == 0)
        let again = try replayed.stdout.split(separator: "\n").prefix(2).map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        func shape(_ w: [String: Any]) -> String {
            let steps = (w["steps"] as? [[String: Any]] ?? []).map {
                "\($0["table"] ?? ""):\($0["chain"] ?? ""):\($0["verdict"] ?? "")"
            }
            let nat = (w["nat"] as? [[String: Any]] ?? []).map {
                "\($0["type"] ?? "") \($0["before"] ?? "") \($0["after"] ?? "")"
            }
            return "\(w["path"] ?? "") \(w["verdict"] ?? "") \(steps) \(nat)"
        }
        #expect(again.map(shape) == walks.map(shape))
    }

    @Test(arguments: [SIGINT, SIGTERM])
    func signalLeavesTheNamespaceAsBefore(_ signal: Int32) throws {
        let (lab, prefix) = try Self.labFile()
        defer { _ = try? CLI.run(["lab", "down", lab]) }
        #expect(try CLI.run(["lab", "up", lab]).status == 0)
        let host = "\(prefix)-host"
        let before = try Self.snapshot(host)
        for backend in ["legacy", "nft"] {
            let (trace, _, err) = try Self.startTrace(["--netns", host, "--dport", "3128", "--backend", backend])
            defer { if trace.isRunning { kill(trace.processIdentifier, SIGKILL) } }
            #expect(Self.waitForTracing(err).contains("Ctrl-C stops"))
            #expect(try Self.snapshot(host) != before)
            kill(trace.processIdentifier, signal)
            trace.waitUntilExit()
            #expect(try Self.snapshot(host) == before, "\(backend) after signal \(signal)")
        }
    }

    /// `make run`: the lab is built, traced, checked against its expected walk and torn down, with the
    /// legacy backend (rules in iptables-legacy) and the nft backend (the same rules through iptables-nft).
    @Test(arguments: ["libvirt-nat", "libvirt-nat-nft"])
    func labRunIsTheMainJob(_ name: String) throws {
        let (lab, prefix) = try Self.labFile(name)
        let r = try CLI.run(["lab", "run", lab, "--no-color"])
        defer { _ = try? CLI.run(["lab", "down", lab]) }
        #expect(r.stderr.contains(name == "libvirt-nat" ? "backend legacy" : "backend nft"))
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("lab check: the trace shows the walk the lab expects"))
        #expect(r.stdout.contains("NAT  SRC 192.168.122.17:42954 → 10.44.0.1:42954  (MASQUERADE, nat:POSTROUTING "))
        #expect(r.stdout.contains("; evidence reply)"))
        #expect(r.stdout.contains("TTL 64 → 63"))
        let left = try Tool.output(["ip", "netns", "list"])
        #expect(!left.contains(prefix))
    }

    /// A SIGKILLed session cannot clean up: `pathtrace cleanup` removes what it left and says so.
    /// The session records itself in a state directory of its own: every `pathtrace` start sweeps what
    /// dead sessions left in its directory, and live tests of other suites start traces meanwhile.
    @Test func cleanupAfterSIGKILL() throws {
        let (lab, prefix) = try Self.labFile()
        let state = FileManager.default.temporaryDirectory.appendingPathComponent("ptstate-\(UUID().uuidString)")
        let env = ["PATHTRACE_STATE_DIR": state.path]
        defer {
            _ = try? CLI.run(["cleanup", "--all"], environment: env)
            try? FileManager.default.removeItem(at: state)
            _ = try? CLI.run(["lab", "down", lab])
        }
        #expect(try CLI.run(["lab", "up", lab]).status == 0)
        let host = "\(prefix)-host"
        let before = try Self.snapshot(host)
        for backend in ["legacy", "nft"] {
            let (trace, _, err) = try Self.startTrace(
                ["--netns", host, "--dport", "3128", "--backend", backend], environment: env)
            #expect(Self.waitForTracing(err).contains("Ctrl-C stops"))
            kill(trace.processIdentifier, SIGKILL)
            trace.waitUntilExit()
            #expect(try Self.snapshot(host) != before, "\(backend): the killed session left its rules")
            let records = try FileManager.default.contentsOfDirectory(atPath: state.path)
            #expect(records.count == 1 && records[0].hasSuffix(".json"), "\(backend): \(records)")
            let cleanup = try CLI.run(["cleanup", "--netns", host], environment: env)
            #expect(cleanup.status == 0)
            #expect(cleanup.stdout.contains("removed"), "\(cleanup.stdout)")
            #expect(try Self.snapshot(host) == before, "\(backend) after cleanup")
            #expect(try FileManager.default.contentsOfDirectory(atPath: state.path).isEmpty)
        }
    }

    /// The nflog backend (an NFLOG rule at the head of every chain) shows the same chain order.
    @Test func nflogBackendShowsTheSameChainOrder() throws {
        let (lab, _) = try Self.labFile()
        defer { _ = try? CLI.run(["lab", "down", lab]) }
        let legacy = try CLI.run(["lab", "run", lab, "--backend", "legacy", "--format", "json"])
        let nflog = try CLI.run(["lab", "run", lab, "--backend", "nflog", "--format", "json"])
        #expect(legacy.status == 0 && nflog.status == 0, "\(nflog.stderr)")
        func chains(_ out: String) throws -> [[String]] {
            try out.split(separator: "\n").map { line in
                let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
                return (o["steps"] as? [[String: Any]] ?? []).map { "\($0["table"] ?? ""):\($0["chain"] ?? "")" }
            }
        }
        let a = try chains(legacy.stdout)
        let b = try chains(nflog.stdout)
        #expect(!a.isEmpty)
        // The SYN's walk step for step; the two runs are two connections, whose later packets (a
        // delayed ACK or not) may differ in number but not in the chains they walk.
        #expect(a.first == b.first)
        #expect(a.first?.count == 7)
        #expect(Set(a) == Set(b))
    }

    /// The nft backend's chain sequence for the SYN equals what `nft monitor trace`, run alongside on
    /// the same traffic, reports (nft prints no line for a chain that ran out of rules, so those
    /// steps of pathtrace's are left out of the comparison).
    @Test func nftBackendMatchesNftMonitorTrace() throws {
        let (lab, prefix) = try Self.labFile("libvirt-nat-nft")
        defer { _ = try? CLI.run(["lab", "down", lab]) }
        #expect(try CLI.run(["lab", "up", lab]).status == 0)
        let host = "\(prefix)-host"
        let monitorFile = NSTemporaryDirectory() + "\(prefix)-monitor.txt"
        defer { try? FileManager.default.removeItem(atPath: monitorFile) }
        let monitor = try Tool.start(["ip", "netns", "exec", host, "nft", "monitor", "trace"], output: monitorFile)
        defer { if monitor.isRunning { kill(monitor.processIdentifier, SIGKILL) } }
        let (trace, out, err) = try Self.startTrace([
            "--netns", host, "--dport", "3128", "--count", "1", "--format", "json", "--backend", "nft",
        ])
        defer { if trace.isRunning { kill(trace.processIdentifier, SIGKILL) } }
        #expect(Self.waitForTracing(err).contains("Ctrl-C stops"))
        #expect(try Self.sendLabTraffic(prefix).contains("ok"))
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        trace.waitUntilExit()
        Thread.sleep(forTimeInterval: 0.3)
        kill(monitor.processIdentifier, SIGKILL)
        monitor.waitUntilExit()
        let live = try #require(
            try JSONSerialization.jsonObject(
                with: Data(String(decoding: stdout, as: UTF8.self).split(separator: "\n")[0].utf8))
                as? [String: Any])
        let liveChains = (live["steps"] as? [[String: Any]] ?? []).filter {
            !($0["kind"] as? String == "return" && $0["handle"] == nil)
        }.map { "\($0["table"] ?? ""):\($0["chain"] ?? ""):\($0["kind"] ?? "")" }
        let replay = try CLI.run(["replay", monitorFile, "--format", "json"])
        let first = try #require(replay.stdout.split(separator: "\n").first)
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        let monitorChains = (seen["steps"] as? [[String: Any]] ?? []).map {
            "\($0["table"] ?? ""):\($0["chain"] ?? ""):\($0["kind"] ?? "")"
        }
        #expect(!liveChains.isEmpty)
        #expect(liveChains == monitorChains)
    }

    /// `--netns pid:N`: a namespace known only by a process in it (a container's).
    @Test func tracesInTheNamespaceOfAProcess() throws {
        let own = try OwnNamespaces(tag: "pid")
        defer { own.remove() }
        let ns = own.names[0]
        let sleeper = try Tool.start(["ip", "netns", "exec", ns, "sleep", "20"])
        defer { kill(sleeper.processIdentifier, SIGKILL) }
        Thread.sleep(forTimeInterval: 0.2)
        let before = try Tool.output(["ip", "netns", "exec", ns, "nft", "list", "ruleset"])
        let r = try CLI.run([
            "--netns", "pid:\(sleeper.processIdentifier)", "--dport", "9", "--backend", "nft", "--duration", "1s",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("tracing in netns pid:\(sleeper.processIdentifier) with nft"))
        #expect(r.stderr.contains("removed 1 rule"))
        #expect(try Tool.output(["ip", "netns", "exec", ns, "nft", "list", "ruleset"]) == before)
        #expect(try CLI.run(["--netns", "pid:0", "--dport", "9"]).status == 2)
    }

    /// `--backend kmsg` outside the initial namespace: the kernel prints that namespace's TRACE lines
    /// only with the initial namespace's nf_log_all_netns set, which pathtrace never changes. Without
    /// it, a clear refusal and nothing installed; with it (set by the machine's owner), a session.
    @Test func kmsgBackendInANamespaceNeedsAllNetns() throws {
        let own = try OwnNamespaces(tag: "ck")
        defer { own.remove() }
        let ns = own.names[0]
        let allNetns = try String(contentsOfFile: "/proc/sys/net/netfilter/nf_log_all_netns", encoding: .utf8)
        let before = try Self.snapshot(ns)
        let r = try CLI.run(["--netns", ns, "--dport", "9", "--backend", "kmsg", "--duration", "1s"])
        if allNetns.hasPrefix("0") {
            #expect(r.status == 1, "\(r.stderr)")
            #expect(r.stderr.contains("net.netfilter.nf_log_all_netns is 1 in the initial namespace, and it is 0"))
            #expect(r.stderr.contains("nothing was changed"))
            #expect(r.stderr.contains("--backend legacy"))
            #expect(!r.stderr.contains("tracing in"))
        } else {
            #expect(r.status == 0, "\(r.stderr)")
            #expect(r.stderr.contains("tracing in netns \(ns) with kmsg"))
        }
        #expect(try Self.snapshot(ns) == before)
        #expect(try String(contentsOfFile: "/proc/sys/net/netfilter/nf_log_all_netns", encoding: .utf8) == allNetns)
    }

    @Test func unprivilegedUserExitsFourWithNothingInstalled() throws {
        let r = try Tool.run([
            "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", CLI.binary.path, "--dport", "3128",
        ])
        #expect(r.status == 4)
        #expect(r.stderr.contains("CAP_NET_ADMIN"))
    }

    @Test func hostileFilterValuesExitTwo() throws {
        for args in [["--dport", "80 -j DROP"], ["--iface", "eth0;reboot"], ["--src", "300.1.1.1/33"]] {
            let r = try CLI.run(args)
            #expect(r.status == 2, "\(args)")
            #expect(r.stderr.contains(args[0]))
        }
        let r = try CLI.run(["--netns", "ptnosuchns", "--dport", "1"])
        #expect(r.status == 2)
    }
}
