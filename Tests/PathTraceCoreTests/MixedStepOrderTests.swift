import PathTraceCore
import Testing

/// A namespace with iptables-legacy tables beside nft tables (backend `mixed`): legacy TRACE steps and
/// nf_tables steps of one packet arrive in separate batches, out of walk order; put back by hook and
/// priority, they make one walk with both kinds of steps.
@Suite struct MixedStepOrderTests {
    static let legacySave = """
        *raw
        :PREROUTING ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        COMMIT
        *filter
        :INPUT ACCEPT [0:0]
        :FORWARD ACCEPT [0:0]
        :OUTPUT ACCEPT [0:0]
        -A FORWARD -p tcp -m tcp --dport 8080 -j ACCEPT
        COMMIT
        """
    /// pathtrace's marking table, a user's table, and a native nft table named as the legacy one.
    static let nftRuleset = """
        table inet pathtrace_t1 { # handle 1
        \tchain prerouting { # handle 1
        \t\ttype filter hook prerouting priority raw - 1; policy accept;
        \t\tmeta l4proto tcp th dport 8080-8081 meta nftrace set 1 # handle 2
        \t}
        }
        table inet ptmix { # handle 2
        \tchain fw { # handle 1
        \t\ttype filter hook forward priority filter + 10; policy accept;
        \t\ttcp dport 8080 counter packets 0 bytes 0 # handle 2
        \t\ttcp dport 8081 drop # handle 3
        \t}
        }
        table ip filter { # handle 3
        \tchain forward { # handle 1
        \t\ttype filter hook forward priority -5; policy accept;
        \t\tcounter packets 0 bytes 0 # handle 4
        \t}
        }
        """

    static func lookup() throws -> Ruleset {
        var rs = try RulesetParser.parse(legacySave, sourceName: "iptables-legacy-save")
        rs.mergeApart(try RulesetParser.parse(nftRuleset, sourceName: "nft -a list ruleset"))
        return rs
    }

    static func header(dport: UInt16, ttl: UInt8) -> PacketHeader {
        var h = PacketHeader()
        h.src = IPAddress("10.0.1.2")
        h.dst = IPAddress("10.0.2.2")
        h.proto = IPProtocol.tcp
        h.sport = 40000
        h.dport = dport
        h.ttl = ttl
        h.ipID = 777
        h.length = 60
        h.tcpSeq = 5000
        h.tcpFlags = .syn
        return h
    }

    /// A legacy TRACE step as the nfnetlink_log collector gives it.
    static func legacy(_ spec: String, _ hook: Hook, line: Int, dport: UInt16, out: String? = nil) -> TraceEvent {
        let p = spec.split(separator: ":").map(String.init)
        var e = TraceEvent(
            source: SourcePosition(file: "netlink", line: line), origin: .netlink, family: .ipv4, table: p[0],
            chain: p[1], kind: StepKind(rawValue: p[2]) ?? .rule)
        e.rule = .number(Int(p[3]) ?? 0)
        e.hook = hook
        e.time = 1000 + Double(line) / 1000
        e.inIface = "eth0"
        e.outIface = out
        e.header = header(dport: dport, ttl: hook == .prerouting ? 64 : 63)
        return e
    }

    /// An nf_tables step as the NFNLGRP_NFTRACE collector gives it (no hook, no time of its own).
    static func nft(
        _ spec: String, family: String = "inet", line: Int, id: UInt32, dport: UInt16, verdict: StepVerdict,
        forwarded: Bool
    ) -> TraceEvent {
        let p = spec.split(separator: ":").map(String.init)
        var e = TraceEvent(
            source: SourcePosition(file: "netlink", line: line), origin: .netlink, family: .ipv4, table: p[0],
            chain: p[1], kind: StepKind(rawValue: p[2]) ?? .rule)
        if let h = UInt64(p[3]) { e.rule = .handle(h) }
        e.tableFamily = family
        e.traceID = id
        e.verdict = verdict
        e.time = 1000.5
        e.timeBasis = .received
        e.inIface = "eth0"
        e.outIface = forwarded ? "eth1" : nil
        e.header = header(dport: dport, ttl: forwarded ? 63 : 64)
        return e
    }

    /// The SYN's events as the two collectors deliver them: the legacy batch, then the nft batch.
    static func arrivals(dport: UInt16) -> [TraceEvent] {
        let drop = dport == 8081
        var events = [
            legacy("raw:PREROUTING:policy:3", .prerouting, line: 1, dport: dport),
            legacy(
                drop ? "filter:FORWARD:policy:2" : "filter:FORWARD:rule:1", .forward, line: 2, dport: dport, out: "eth1"
            ),
            nft("pathtrace_t1:prerouting:rule:2", line: 1, id: 0xa, dport: dport, verdict: .continue, forwarded: false),
            nft("pathtrace_t1:prerouting:policy:-", line: 2, id: 0xa, dport: dport, verdict: .accept, forwarded: false),
            nft(
                "filter:forward:rule:4", family: "ip", line: 3, id: 0xb, dport: dport, verdict: .continue,
                forwarded: true),
            nft(
                "filter:forward:policy:-", family: "ip", line: 4, id: 0xb, dport: dport, verdict: .accept,
                forwarded: true),
        ]
        if drop {
            events.append(nft("ptmix:fw:rule:3", line: 5, id: 0xc, dport: dport, verdict: .drop, forwarded: true))
        } else {
            events.append(nft("ptmix:fw:rule:2", line: 5, id: 0xc, dport: dport, verdict: .continue, forwarded: true))
            events.append(nft("ptmix:fw:policy:-", line: 6, id: 0xc, dport: dport, verdict: .accept, forwarded: true))
        }
        return events
    }

    static func walks(_ arrivals: [TraceEvent]) throws -> (ordered: [TraceEvent], walks: [PacketWalk]) {
        let lookup = try lookup()
        var order = MixedStepOrder(hold: 0.2)
        var ordered: [TraceEvent] = []
        for e in arrivals { ordered += order.add(e, now: 10, lookup: lookup) }
        #expect(ordered.isEmpty)
        ordered += order.release(now: 10.1)
        #expect(ordered.isEmpty)
        ordered += order.release(now: 10.3)
        var walks: [PacketWalk] = []
        var c = Correlator(lookup: lookup) { walks.append($0) }
        for e in ordered { c.add(e) }
        c.finish()
        return (ordered, walks)
    }

    static func label(_ s: WalkStep) -> String {
        let rule: String
        switch s.event.rule {
        case .number(let n)?: rule = "\(s.event.kind.rawValue) \(n)"
        case .handle(let h)?: rule = "\(s.event.kind.rawValue) #\(h)"
        case nil: rule = s.event.kind.rawValue
        }
        return "\(s.hook?.rawValue ?? "?") \(s.event.table):\(s.event.chain) \(rule) \(s.verdict?.description ?? "-")"
    }

    @Test func legacyAndNftStepsMakeOneWalkInHookAndPriorityOrder() throws {
        let (_, walks) = try Self.walks(Self.arrivals(dport: 8080))
        try #require(walks.count == 1)
        let walk = walks[0]
        #expect(
            walk.steps.map(Self.label) == [
                "PREROUTING pathtrace_t1:prerouting rule #2 continue",
                "PREROUTING pathtrace_t1:prerouting policy accept",
                "PREROUTING raw:PREROUTING policy 3 accept",
                "FORWARD filter:forward rule #4 continue",
                "FORWARD filter:forward policy accept",
                "FORWARD filter:FORWARD rule 1 accept",
                "FORWARD ptmix:fw rule #2 continue",
                "FORWARD ptmix:fw policy accept",
            ])
        #expect(walk.path == .forward && walk.verdict == .accept)
        // The legacy table and the nft table named `filter` stay apart: each step has its own rule's text.
        #expect(walk.steps[5].event.ruleText == "-A FORWARD -p tcp -m tcp --dport 8080 -j ACCEPT")
        #expect(walk.steps[3].event.ruleText == "counter packets 0 bytes 0")
        #expect(walk.steps[6].event.ruleText == "tcp dport 8080 counter packets 0 bytes 0")
    }

    /// An accept in one base chain ends only that chain; a drop in the nft chain ends the walk.
    @Test func aDropInTheNftChainIsTheWalksVerdict() throws {
        let (_, walks) = try Self.walks(Self.arrivals(dport: 8081))
        try #require(walks.count == 1)
        let walk = walks[0]
        #expect(walk.path == .forward && walk.verdict == .drop)
        #expect(
            walk.steps.suffix(2).map(Self.label) == [
                "FORWARD filter:FORWARD policy 2 accept", "FORWARD ptmix:fw rule #3 drop",
            ])
        #expect(walk.steps.last?.event.ruleText == "tcp dport 8081 drop")
    }

    /// A legacy walk that ends on a chain's policy takes the ruleset's policy as that step's verdict:
    /// the inference that finds no next step must not overwrite it.
    @Test func aPolicyAtTheWalksEndIsTheRulesetsPolicy() throws {
        let rules = try RulesetParser.parse(
            "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n",
            sourceName: "iptables-legacy-save")
        var walks: [PacketWalk] = []
        var c = Correlator(lookup: rules) { walks.append($0) }
        c.add(Self.legacy("raw:PREROUTING:policy:3", .prerouting, line: 1, dport: 9000))
        c.add(Self.legacy("filter:FORWARD:policy:1", .forward, line: 2, dport: 9000, out: "eth1"))
        c.finish()
        try #require(walks.count == 1)
        #expect(
            walks[0].steps.map(Self.label) == [
                "PREROUTING raw:PREROUTING policy 3 accept", "FORWARD filter:FORWARD policy 1 drop",
            ])
        #expect(walks[0].verdict == .drop)
    }

    /// Arrival order does not matter: nft first, or the two interleaved.
    @Test func anyArrivalOrderGivesTheSameWalk() throws {
        let events = Self.arrivals(dport: 8080)
        let expected = try Self.walks(events).ordered.map(\.source)
        let nftFirst = Array(events[2...]) + Array(events[..<2])
        let interleaved = [events[2], events[0], events[3], events[4], events[1], events[5], events[6], events[7]]
        for arrival in [nftFirst, interleaved] {
            let (ordered, walks) = try Self.walks(arrival)
            #expect(ordered.map(\.source) == expected)
            #expect(walks.count == 1)
        }
    }

    /// Two packets with the same header fields (a retransmitted SYN) held at once stay two groups.
    @Test func theSameHeaderAtAnEarlierHookIsTheNextPacket() throws {
        let lookup = try Self.lookup()
        var order = MixedStepOrder(hold: 0.2)
        let first = Self.arrivals(dport: 8080)
        var out: [TraceEvent] = []
        for e in first[0..<2] + first[0..<2] { out += order.add(e, now: 1, lookup: lookup) }
        out += order.flush()
        #expect(out.map(\.source.line) == [1, 2, 1, 2])
    }

    /// An event without a header has nothing to hold it by: it passes at once.
    @Test func anEventWithoutAHeaderPasses() throws {
        var order = MixedStepOrder()
        var e = Self.legacy("raw:PREROUTING:policy:3", .prerouting, line: 1, dport: 8080)
        e.header = nil
        #expect(order.add(e, now: 1, lookup: nil).count == 1)
    }
}
