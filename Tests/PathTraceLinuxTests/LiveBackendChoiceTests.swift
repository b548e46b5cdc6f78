#if os(Linux)
import Foundation
import PathTraceCore
import PathTraceLinux
import TestSupport
import Testing

/// What a session says it leaves is what it leaves: in a fresh `ptr…` namespace with iptables-legacy
/// rules but no raw table, `pathtrace` (auto) traces with legacy TRACE, says before and at exit that the
/// raw table will stay, empty, and it does; for `-6` (no ip6tables-legacy rules) it takes nft and leaves nothing.
@Suite(.serialized, .offPool, .enabled(if: Live.available, "needs root, CAP_NET_ADMIN, iproute2, iptables, nftables"))
struct LiveBackendChoiceTests {
    static func tables(_ bin: String, _ ns: String) throws -> [String] {
        try Live.run([bin], in: ns).stdout.split(separator: "\n").filter { $0.hasPrefix("*") }.map(String.init)
    }

    /// The lines of one table in an `iptables-save` listing, without counters and comments.
    static func table(_ name: String, _ save: String) -> [String] {
        var inside = false
        var out: [String] = []
        for line in save.split(separator: "\n") {
            if line.hasPrefix("*") { inside = line == "*\(name)" }
            if inside, !line.hasPrefix("#") { out.append(String(line.prefix { $0 != "[" })) }
            if line == "COMMIT" { inside = false }
        }
        return out
    }

    @Test(.liveNetns) func legacyRulesWithoutARawTableLeaveWhatWasSaid() throws {
        let ns = LiveNetnsTrait.name
        try Live.run(["iptables-legacy", "-w", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"], in: ns)
        #expect(try Self.tables("iptables-legacy-save", ns) == ["*filter"])
        let nftBefore = try Live.run(["nft", "list", "ruleset"], in: ns).stdout

        let r = try CLI.run(["--netns", ns, "--proto", "tcp", "--dport", "9", "--duration", "1s"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stderr.split(separator: "\n").map(String.init)
        let said = try #require(lines.firstIndex { $0.contains("the raw table will stay, empty") })
        let tracing = try #require(lines.firstIndex { $0.contains("Ctrl-C stops") })
        let removed = try #require(lines.firstIndex { $0.hasPrefix("pathtrace: removed 4 rules") })
        let atExit = try #require(lines.firstIndex { $0.contains("the ipv4 raw table stays, empty") })
        #expect(lines.contains("pathtrace: backend legacy (the ruleset has iptables-legacy rules)"))
        #expect(lines[said].hasPrefix("pathtrace: ipv4: no raw table is loaded here"))
        #expect(said < tracing && removed < atExit)
        #expect(!r.stderr.contains("ipv4 not traced"))

        // As said: the raw table is there, empty; the filter table as it was; nothing for IPv6 or nft.
        let save = try Live.run(["iptables-legacy-save"], in: ns).stdout
        #expect(try Self.tables("iptables-legacy-save", ns).sorted() == ["*filter", "*raw"])
        #expect(Self.table("raw", save) == ["*raw", ":PREROUTING ACCEPT ", ":OUTPUT ACCEPT ", "COMMIT"])
        #expect(Self.table("filter", save).contains("-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT"))
        #expect(try Self.tables("ip6tables-legacy-save", ns).isEmpty)
        #expect(try Live.run(["nft", "list", "ruleset"], in: ns).stdout == nftBefore)
    }

    @Test(.liveNetns) func autoForAFamilyWithoutLegacyRulesTakesNftAndLeavesNothing() throws {
        let ns = LiveNetnsTrait.name
        try Live.run(["iptables-legacy", "-w", "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "ACCEPT"], in: ns)
        let before = try Live.snapshot(ns)

        let r = try CLI.run(["--netns", ns, "-6", "--proto", "tcp", "--dport", "9", "--duration", "1s"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("pathtrace: backend nft (no iptables-legacy rules for ipv6, the families traced)"))
        #expect(r.stderr.contains("removed 1 rule"))
        #expect(!r.stderr.contains("will stay") && !r.stderr.contains("stays, empty"))
        #expect(try Live.snapshot(ns) == before)
        #expect(try Self.tables("ip6tables-legacy-save", ns).isEmpty)
    }
}
#endif
