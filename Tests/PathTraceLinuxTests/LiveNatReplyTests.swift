#if os(Linux)
import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import TestSupport
import Testing

/// `pathtrace --dport 8080` on a gateway that DNATs 8080 to a server's port 80 (labs dnat-port and
/// dnat-port-nft, in `ptnr…` namespaces): the SYN shows the DNAT, pathtrace adds a tagged rule for the
/// translated end, and the next connection's reply (from 10.99.2.2:80, which the reverse of the filter
/// does not match) is traced, linked to its opener and de-NATed; at exit the gateway is as before.
@Suite(.serialized, .offPool, .enabled(if: Live.available, "needs root, CAP_NET_ADMIN, iproute2, iptables, nftables"))
struct LiveNatReplyTests {
    /// Collects a child's stderr as it comes, so a test can wait for a line.
    final class Lines: @unchecked Sendable {
        private let lock = NSLock()
        private var text = ""
        func append(_ data: Data) {
            lock.withLock { text += String(decoding: data, as: UTF8.self) }
        }
        var value: String { lock.withLock { text } }

        /// Waits (bounded) until the text contains `needle`.
        func wait(for needle: String, seconds: Double) -> Bool {
            let end = Date().addingTimeInterval(seconds)
            while Date() < end {
                if value.contains(needle) { return true }
                Thread.sleep(forTimeInterval: 0.05)
            }
            return value.contains(needle)
        }
    }

    /// Chain policy counters (`[12:720]`) move with the traffic: they are not the ruleset.
    static func withoutCounters(_ s: Live.Snapshot) -> Live.Snapshot {
        var s = s
        for keyPath in [\Live.Snapshot.iptables, \Live.Snapshot.ip6tables] {
            s[keyPath: keyPath] = s[keyPath: keyPath].split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix(":") ? String($0.prefix { $0 != "[" }) : String($0) }.joined(separator: "\n")
        }
        return s
    }

    static func walks(_ stdout: String) throws -> [[String: Any]] {
        try stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
    }

    /// The nflog backend selects the SYN once in raw (a mark bit) and logs it in every chain by that bit:
    /// after the DNAT to port 80 the SYN still shows FORWARD and nat POSTROUTING, and the replies (from
    /// 10.99.2.2:80, never matched by the filter) are logged through the connection's mark.
    @Test func nflogFollowsTheDNATdPacket() throws {
        let prefix = "ptnf\(getpid() % 10000)\(Live.next() % 10)"
        let file = try Fixtures.labFile("dnat-port", prefix: prefix)
        defer {
            _ = try? CLI.run(["lab", "down", file])
            try? FileManager.default.removeItem(atPath: file)
        }
        let r = try CLI.run(["lab", "run", file, "--backend", "nflog", "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("lab check: the trace shows the walk the lab expects"))
        #expect(r.stderr.contains("removed 27 rules"), "\(r.stderr)")
        let walks = try Self.walks(r.stdout)
        let syn = try #require(walks.first)
        let steps = syn["steps"] as? [[String: Any]] ?? []
        #expect(
            steps.map { "\($0["table"] ?? ""):\($0["chain"] ?? "")" } == [
                "raw:PREROUTING", "nat:PREROUTING", "filter:FORWARD", "nat:POSTROUTING",
            ])
        let forward = try #require(steps.first { $0["hook"] as? String == "FORWARD" })
        #expect(forward["dst"] as? String == "10.99.2.2" && forward["dport"] as? Int == 80)
        #expect(steps.allSatisfy { $0["mark"] == nil })  // pathtrace's own bit is not the packet's mark
        #expect((syn["nat"] as? [[String: Any]])?.first?["after"] as? String == "10.99.2.2:80")
        let reply = try #require(walks.first { ($0["flow"] as? [String: Any])?["src"] as? String == "10.99.2.2" })
        #expect(reply["reply_to"] as? Int == syn["packet"] as? Int)
        #expect(
            (reply["nat"] as? [[String: Any]])?.contains {
                $0["direction"] as? String == "reply" && $0["after"] as? String == "10.99.1.1:8080"
            } == true)
    }

    /// `lab [backend]`: the legacy lab with auto (legacy) and with nflog, the nft lab with auto (nft).
    @Test(arguments: ["dnat-port", "dnat-port-nft", "dnat-port nflog"])
    func theReplyOfADNATIsTracedAndDeNATed(_ variant: String) throws {
        let name = String(variant.split(separator: " ")[0])
        let backend = variant.split(separator: " ").dropFirst().first.map(String.init)
        var spec = try Fixtures.lab(name, prefix: "ptnr\(getpid() % 10000)\(Live.next() % 10)")
        let lab = LabBuilder(spec: spec)
        defer { lab.down() }
        try lab.up()
        let server = try LabTraffic.startServer(spec, idle: 30)
        defer { server?.stop() }
        let gw = spec.netns("gw")
        let before = try Live.snapshot(gw)

        let trace = Process()
        trace.executableURL = CLI.binary
        trace.arguments =
            ["--netns", gw, "--proto", "tcp", "--dport", "8080", "--duration", "8s", "--format", "json"]
            + (backend.map { ["--backend", $0] } ?? [])
        let out = Pipe()
        let err = Pipe()
        trace.standardOutput = out
        trace.standardError = err
        let stderr = Lines()
        err.fileHandleForReading.readabilityHandler = { stderr.append($0.availableData) }
        try trace.run()
        defer { if trace.isRunning { kill(trace.processIdentifier, SIGKILL) } }
        let stdout = Lines()
        out.fileHandleForReading.readabilityHandler = { stdout.append($0.availableData) }
        #expect(stderr.wait(for: "Ctrl-C stops", seconds: 10), "\(stderr.value)")

        // The first connection shows the DNAT; once its walk is out, the replies are followed.
        #expect(try LabTraffic.send(spec).first?.hasPrefix("ok") == true)
        #expect(
            stderr.wait(
                for: "following the replies of DNAT to 10.99.2.2:80 (tcp from 10.99.2.2:80): 2 rule(s) added",
                seconds: 6), "\(stderr.value)")
        spec.traffic[0].sport = 41001
        #expect(try LabTraffic.send(spec).first?.hasPrefix("ok") == true)
        trace.waitUntilExit()
        for (pipe, lines) in [(out, stdout), (err, stderr)] {
            pipe.fileHandleForReading.readabilityHandler = nil
            lines.append(pipe.fileHandleForReading.readDataToEndOfFile())
        }
        #expect(trace.terminationStatus == 0, "\(stderr.value)")

        let walks = try Self.walks(stdout.value)
        func flow(_ w: [String: Any]) -> [String: Any] { w["flow"] as? [String: Any] ?? [:] }
        let syn = try #require(
            walks.first { flow($0)["sport"] as? Int == 41001 && flow($0)["dport"] as? Int == 8080 },
            "\(walks.count) walks")
        #expect((syn["nat"] as? [[String: Any]])?.contains { $0["type"] as? String == "dnat" } == true)
        let replies = walks.filter { flow($0)["src"] as? String == "10.99.2.2" && flow($0)["dport"] as? Int == 41001 }
        let synAck = try #require(
            replies.first {
                ($0["steps"] as? [[String: Any]])?.first?["tcp_flags"] as? String == "ACK SYN"
            }, "replies: \(replies.count)")
        #expect(synAck["reply_to"] as? Int == syn["packet"] as? Int)
        #expect(synAck["path"] as? String == "forward")
        #expect(synAck["verdict"] as? String == "accept")
        let hooks = (synAck["steps"] as? [[String: Any]] ?? []).compactMap { $0["hook"] as? String }
        // The nft lab has no chain at PREROUTING that a reply passes (its nat chain sees first packets only).
        #expect(hooks.contains("FORWARD") && (name != "dnat-port" || hooks.first == "PREROUTING"), "\(hooks)")
        if backend == "nflog" {
            // Selected in raw by the reply rule, not only from the first chain after conntrack.
            #expect(synAck["path"] as? String == "forward")
            #expect((synAck["steps"] as? [[String: Any]])?.first?["table"] as? String == "raw")
        }
        let deNat = try #require((synAck["nat"] as? [[String: Any]])?.first { $0["field"] as? String == "src" })
        #expect(deNat["type"] as? String == "dnat")
        #expect(deNat["direction"] as? String == "reply")
        #expect(deNat["before"] as? String == "10.99.2.2:80")
        #expect(deNat["after"] as? String == "10.99.1.1:8080")

        // The added rules went with the rest: the gateway is as it was.
        let removed =
            backend == "nflog" ? "removed 29 rules" : name == "dnat-port" ? "removed 6 rules" : "removed 3 rules"
        #expect(stderr.value.contains(removed), "\(stderr.value)")
        #expect(try Self.withoutCounters(Live.snapshot(gw)) == Self.withoutCounters(before))
    }
}
#endif
