import PathTraceCore
import Testing

/// A DNAT'd flow answers from the translated end: the plan's extra rules trace packets from there,
/// tagged like the session's own rules, for each backend.
@Suite struct NatReplyRulesTests {
    static let sid = SessionID("ab12") ?? .random()

    static func dport8080() -> WalkFilter {
        var f = WalkFilter()
        f.proto = IPProtocol.tcp
        f.dport = PortRange("8080")
        return f
    }

    /// The SYN of `--dport 8080` published to 172.17.0.2:80, as the analyzer gives it.
    static func dnatWalk(after: String? = "172.17.0.2:80", type: NatType = .dnat) -> PacketWalk {
        var e = TraceEvent(
            source: SourcePosition(file: "t", line: 1), origin: .kernelTrace, family: .ipv4, table: "nat",
            chain: "PREROUTING", kind: .rule)
        var h = PacketHeader()
        h.proto = IPProtocol.tcp
        h.src = IPAddress("10.0.0.5")
        h.dst = IPAddress("10.0.0.1")
        h.sport = 40000
        h.dport = 8080
        e.header = h
        var walk = PacketWalk(packet: 1, family: .ipv4)
        walk.steps = [WalkStep(event: e, hook: .prerouting, verdict: nil, verdictInferred: false)]
        walk.nat = [
            NatRewrite(
                type: type, field: "dst", before: "10.0.0.1:8080", after: after, at: "nat:PREROUTING",
                evidence: .observed)
        ]
        return walk
    }

    @Test func theSourceIsTheTranslatedEnd() throws {
        let source = try #require(NatReplySource(walk: Self.dnatWalk()))
        #expect(source.family == .ipv4 && source.proto == IPProtocol.tcp)
        #expect(source.address == IPAddress("172.17.0.2") && source.port == 80 && source.type == .dnat)
        #expect(source.description == "tcp from 172.17.0.2:80")
        let v6 = try #require(NatReplySource(walk: Self.dnatWalk(after: "[fd00::2]:80")))
        #expect(v6.family == .ipv6 && v6.address == IPAddress("fd00::2") && v6.port == 80)
        #expect(NatReplySource(walk: Self.dnatWalk(after: "172.17.0.2"))?.port == nil)
        #expect(NatReplySource(walk: Self.dnatWalk(type: .redirect))?.type == .redirect)
        // Unknown after, a SNAT, or a reply's (reverse) translation: nothing to follow.
        #expect(NatReplySource(walk: Self.dnatWalk(after: nil)) == nil)
        #expect(NatReplySource(walk: Self.dnatWalk(type: .masquerade)) == nil)
        var reply = Self.dnatWalk()
        reply.nat[0].direction = "reply"
        #expect(NatReplySource(walk: reply) == nil)
    }

    @Test func legacyRulesMatchTheTranslatedSourceInRaw() throws {
        let plan = try TraceRulePlan.make(
            filter: Self.dport8080(), backend: .legacy, session: Self.sid, families: [.ipv4], replies: true)
        let source = try #require(NatReplySource(walk: Self.dnatWalk()))
        let rules = try plan.replyRules(from: source, index: 1, rate: .default)
        #expect(rules.map(\.label) == ["ipv4 raw:PREROUTING", "ipv4 raw:OUTPUT"])
        let spec = [
            "-p", "tcp", "-s", "172.17.0.2/32", "-m", "tcp", "--sport", "80", "-m", "comment", "--comment",
            "pathtrace:ab12", "-m", "limit", "--limit", "100/second", "-j", "TRACE",
        ]
        #expect(rules[0].install.argv == ["iptables-legacy", "-w", "-t", "raw", "-I", "PREROUTING"] + spec)
        #expect(rules[0].remove.argv == ["iptables-legacy", "-w", "-t", "raw", "-D", "PREROUTING"] + spec)
        #expect(rules[1].install.argv == ["iptables-legacy", "-w", "-t", "raw", "-I", "OUTPUT"] + spec)
    }

    @Test func nftRulesAreChainsOfTheSessionsTable() throws {
        let plan = try TraceRulePlan.make(filter: Self.dport8080(), backend: .nft, session: Self.sid, replies: true)
        let source = try #require(NatReplySource(walk: Self.dnatWalk()))
        let rules = try plan.replyRules(from: source, index: 2, rate: .default)
        #expect(rules.map(\.label) == ["ipv4 pathtrace_ab12:reply2_prerouting", "ipv4 pathtrace_ab12:reply2_output"])
        #expect(rules[0].install.argv == ["nft", "-f", "-"])
        #expect(
            rules[0].install.stdin == """
                table inet pathtrace_ab12 {
                \tchain reply2_prerouting {
                \t\ttype filter hook prerouting priority -301; policy accept;
                \t\tip saddr 172.17.0.2/32 meta l4proto tcp th sport 80 limit rate 100/second meta nftrace set 1
                \t}
                }

                """)
        #expect(rules[0].remove.argv == ["nft", "delete", "chain", "inet", "pathtrace_ab12", "reply2_prerouting"])
        #expect(rules[1].check.argv == ["nft", "list", "chain", "inet", "pathtrace_ab12", "reply2_output"])
        #expect(rules[1].install.stdin?.contains("type filter hook output priority -301") == true)
    }

    /// The nflog backend selects the replies where its plan selects (raw PREROUTING and OUTPUT here).
    @Test func nflogSelectsTheRepliesWhereThePlanSelects() throws {
        let chains =
            ["PREROUTING", "OUTPUT"].map { ChainRef(family: .ipv4, table: "raw", chain: $0, isBuiltin: true) }
            + [ChainRef(family: .ipv4, table: "nat", chain: "PREROUTING", isBuiltin: true)]
        let plan = try TraceRulePlan.make(
            filter: Self.dport8080(), backend: .nflog, session: Self.sid, families: [.ipv4], nflogGroup: 7,
            chains: chains, replies: true)
        let rules = try plan.replyRules(from: try #require(NatReplySource(walk: Self.dnatWalk())), index: 1)
        #expect(rules.map(\.label) == ["ipv4 raw:PREROUTING", "ipv4 raw:OUTPUT"])
        #expect(
            Array(rules[0].install.argv.dropFirst(4)) == [
                "-I", "PREROUTING", "1", "-p", "tcp", "-s", "172.17.0.2/32", "-m", "tcp", "--sport", "80", "-m",
                "comment", "--comment", "pathtrace:ab12", "-m", "limit", "--limit", "100/second", "--limit-burst",
                "100", "-j", "MARK", "--set-xmark", "0x20000000/0x20000000",
            ])
    }

    @Test func aFamilyNotTracedIsRefused() throws {
        let plan = try TraceRulePlan.make(
            filter: Self.dport8080(), backend: .legacy, session: Self.sid, families: [.ipv6], replies: true)
        let source = try #require(NatReplySource(walk: Self.dnatWalk()))
        #expect(throws: TraceRulePlanError.self) { try plan.replyRules(from: source, index: 1) }
    }

    @Test func repliesAreRecognised() throws {
        let source = try #require(NatReplySource(walk: Self.dnatWalk()))
        var reply = Self.dnatWalk()
        reply.nat = []
        reply.steps[0].event.header?.src = IPAddress("172.17.0.2")
        reply.steps[0].event.header?.sport = 80
        #expect(source.isReply(reply))
        #expect(!source.isReply(Self.dnatWalk()))
    }
}

/// Where the nflog backend selects when the raw table is not loaded: the first table that is (it never
/// loads one), with the rate limit on the selection and the restore only.
@Suite struct NflogMarkPlanTests {
    static let sid = SessionID("ab12") ?? .random()

    @Test func withoutRawItSelectsInMangleThenNatThenFilter() throws {
        var f = WalkFilter()
        f.proto = IPProtocol.tcp
        f.dport = PortRange("8080")
        for (tables, selecting) in [
            (["mangle", "nat", "filter"], "mangle"), (["nat", "filter"], "nat"), (["filter"], "filter"),
        ] {
            var chains: [ChainRef] = []
            for t in tables {
                for c in TraceRulePlan.entryChains(t) {
                    chains.append(ChainRef(family: .ipv4, table: t, chain: c, isBuiltin: true))
                }
            }
            let plan = try TraceRulePlan.make(
                filter: f, backend: .nflog, session: Self.sid, families: [.ipv4], nflogGroup: 7, chains: chains,
                replies: true)
            let selects = plan.rules.filter { $0.install.argv.contains("8080") }
            #expect(Set(selects.map(\.table)) == [selecting], "\(tables)")
            // The filter and its reverse, in each entry chain of that table.
            #expect(selects.count == 2 * TraceRulePlan.entryChains(selecting).count)
            #expect(
                selects.allSatisfy { $0.install.argv.suffix(3) == ["MARK", "--set-xmark", "0x20000000/0x20000000"] })
            #expect(selects.allSatisfy { $0.install.argv.contains("limit") })
            #expect(!plan.rules.contains { $0.table == "raw" })
            let logs = plan.rules.filter { $0.install.argv.contains("NFLOG") }
            #expect(logs.count == chains.count && logs.allSatisfy { !$0.install.argv.contains("limit") })
        }
    }
}
