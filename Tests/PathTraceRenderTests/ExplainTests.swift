import Foundation
import PathTraceCore
import PathTraceRender
import TestSupport
import Testing

/// `--explain`: every fragment a sentence can be made of is pinned to a case — real captures where one
/// shows it, a built walk where none does — and every sentence of every capture is made of pinned fragments.
@Suite struct ExplainTests {
    static let libvirt = ("captures/libvirt-nat.dmesg", [(nil as String?, "captures/libvirt-nat.rules")])
    static let dnat = ("captures/dnat-portmap.dmesg", [(nil as String?, "captures/dnat-portmap.rules")])
    static let drop = ("captures/drop.dmesg", [(nil as String?, "captures/drop.rules")])
    static let ipv6 = ("captures/ipv6.dmesg", [(nil as String?, "captures/ipv6.rules")])
    static let output = ("captures/output.dmesg", [(table: String?, file: String)]())
    static let bridge = ("captures/bridge.dmesg", [(table: String?, file: String)]())
    static let seed = (
        "seed/001-libvirt-nat.dmesg", [("filter" as String?, "seed/001-filter.nvL"), ("nat", "seed/001-nat.nvL")]
    )

    static func walks(_ c: (String, [(table: String?, file: String)])) throws -> [PacketWalk] {
        try ReplayHarness.run([c.0], rulesets: c.1).walks
    }

    /// The sentence of the `occurrence`-th step at `table:chain` of packet `packet`.
    static func sentence(
        _ c: (String, [(table: String?, file: String)]), packet: Int, _ chain: String, occurrence: Int = 0
    ) throws -> String {
        let walk = try #require(try walks(c).first { $0.packet == packet })
        let indices = walk.steps.indices.filter {
            "\(walk.steps[$0].event.table):\(walk.steps[$0].event.chain)" == chain
        }
        return Explain.step(walk, at: indices[occurrence])
    }

    // MARK: - Whole sentences, one per kind of walk

    @Test func forwardedFirstPacketWithMasquerade() throws {
        #expect(
            try Self.sentence(Self.libvirt, packet: 1, "raw:PREROUTING")
                == "The packet arrived on virbr0 and is at PREROUTING, before the routing decision; the raw table runs "
                + "before conntrack (for NOTRACK and TRACE): no rule in raw:PREROUTING matched, so its policy ACCEPT "
                + "let the packet go on.")
        #expect(
            try Self.sentence(Self.libvirt, packet: 1, "mangle:FORWARD")
                == "The routing decision found 10.44.32.217 is another host's address, reached through bond0, so with "
                + "forwarding on the packet goes to FORWARD (ip_forward lowered the TTL by one first); the mangle "
                + "table is for changing packet fields (TOS, TTL, mark): no rule in mangle:FORWARD matched, so its "
                + "policy ACCEPT let the packet go on.")
        #expect(
            try Self.sentence(Self.libvirt, packet: 1, "filter:FORWARD")
                == "The filter table decides whether the packet may pass: rule 2 in filter:FORWARD matched and "
                + "accepted the packet: this table's chain is done, later tables and hooks still see it.")
        #expect(
            try Self.sentence(Self.libvirt, packet: 1, "mangle:POSTROUTING")
                == "The route chose bond0, so the packet is at POSTROUTING, the last hook before it leaves; then ARP "
                + "finds the next hop's MAC; the mangle table is for changing packet fields (TOS, TTL, mark): no rule "
                + "in mangle:POSTROUTING matched, so its policy ACCEPT let the packet go on.")
        #expect(
            try Self.sentence(Self.libvirt, packet: 1, "nat:POSTROUTING")
                == "The nat table here is for source NAT (SNAT, MASQUERADE): rule 3 in nat:POSTROUTING matched and "
                + "set up MASQUERADE: the source 192.168.122.17:42954 becomes 10.44.0.1:42954 (the address of the out "
                + "interface); only a connection's first packet passes the nat chains: conntrack records the outcome "
                + "and translates later packets and replies without them.")
        #expect(
            try Self.sentence(Self.libvirt, packet: 1, "nat:PREROUTING")
                == "The nat table here is for destination NAT (DNAT, REDIRECT): no rule in nat:PREROUTING matched, so "
                + "its policy ACCEPT let the packet go on without NAT here; only a connection's first packet passes "
                + "the nat chains: conntrack records the outcome and translates later packets and replies without them."
        )
    }

    @Test func replyIsTranslatedByConntrackAndMatchesEstablished() throws {
        #expect(
            try Self.sentence(Self.libvirt, packet: 2, "mangle:PREROUTING")
                == "Conntrack finds this packet is a reply in the connection packet 1 opened, so it skips the nat "
                + "chains at every hook and conntrack applies the reverse of that connection's NAT itself "
                + "(DST 10.44.0.1:42954 → 192.168.122.17:42954); the mangle table is for changing packet fields "
                + "(TOS, TTL, mark): no rule in mangle:PREROUTING matched, so its policy ACCEPT let the packet go on.")
        #expect(
            try Self.sentence(Self.libvirt, packet: 2, "filter:FORWARD")
                == "The filter table decides whether the packet may pass: rule 1 in filter:FORWARD matched and "
                + "accepted the packet: this table's chain is done, later tables and hooks still see it (it matches "
                + "because conntrack knows the packet's connection: state ESTABLISHED, or RELATED for an ICMP error "
                + "or an expected connection).")
    }

    @Test func dnatFirstPacketAndALaterPacketOfItsConnection() throws {
        #expect(
            try Self.sentence(Self.dnat, packet: 1, "nat:PREROUTING")
                == "The nat table here is for destination NAT (DNAT, REDIRECT): rule 1 in nat:PREROUTING matched and "
                + "set up DNAT: the destination 172.31.1.1:8765 becomes 10.77.0.80:80; only a connection's first "
                + "packet passes the nat chains: conntrack records the outcome and translates later packets and "
                + "replies without them.")
        #expect(
            try Self.sentence(Self.dnat, packet: 1, "nat:POSTROUTING")
                == "The nat table here is for source NAT (SNAT, MASQUERADE): rule 1 in nat:POSTROUTING matched and "
                + "set up SNAT: the source 172.31.1.10:41234 becomes 10.77.0.1:41234; only a connection's first "
                + "packet passes the nat chains: conntrack records the outcome and translates later packets and "
                + "replies without them.")
        #expect(
            try Self.sentence(Self.dnat, packet: 1, "filter:FORWARD")
                == "The filter table decides whether the packet may pass: rule 1 in filter:FORWARD matched and jumped "
                + "to the user chain AUDIT-FWD.")
        #expect(
            try Self.sentence(Self.dnat, packet: 1, "filter:AUDIT-FWD")
                == "The filter table decides whether the packet may pass: rule 1 in the user chain AUDIT-FWD matched "
                + "with a target that does not decide (LOG, MARK, …), so the next rule is tried.")
        #expect(
            try Self.sentence(Self.dnat, packet: 1, "filter:AUDIT-FWD", occurrence: 1)
                == "The filter table decides whether the packet may pass: the packet reached the end of the user "
                + "chain AUDIT-FWD (or a RETURN) and goes back to the rule after the jump in the calling chain.")
        #expect(
            try Self.sentence(Self.dnat, packet: 1, ":")
                == "A LOG rule wrote this line with the prefix \"[PT AUDIT] \" (a LOG line names neither its chain "
                + "nor its rule) and the packet went on to the next rule.")
        #expect(
            try Self.sentence(Self.dnat, packet: 2, "filter:AUDIT-FWD")
                == "The filter table decides whether the packet may pass: rule 2 in the user chain AUDIT-FWD matched "
                + "and returned the packet to the calling chain (it matches because conntrack knows the packet's "
                + "connection: state ESTABLISHED, or RELATED for an ICMP error or an expected connection).")
        // A later packet of the same connection: no nat step, conntrack applies the DNAT.
        let later = try #require(try Self.walks(Self.dnat).first { $0.lines.first == 20 })
        #expect(!later.steps.contains { $0.event.table == "nat" })
        let sentences = Explain.steps(later)
        #expect(
            sentences[1]
                == "Conntrack finds this packet is a later packet of the connection packet 1 opened, so it skips the "
                + "nat chains at every hook and conntrack applies that connection's NAT itself (DST 172.31.1.1:8765 "
                + "→ 10.77.0.80:80); the mangle table is for changing packet fields (TOS, TTL, mark): no rule in "
                + "mangle:PREROUTING matched, so its policy ACCEPT let the packet go on.")
        #expect(!sentences.contains { $0.contains("only a connection's first packet") })
    }

    @Test func locallyDeliveredRejectedDroppedAndICMPErrors() throws {
        #expect(
            try Self.sentence(Self.drop, packet: 10, "mangle:INPUT")
                == "The routing decision found 172.31.3.1 is an address of this host (a local route), so the packet "
                + "goes to INPUT, the last hook before a local socket; the mangle table is for changing packet fields "
                + "(TOS, TTL, mark): no rule in mangle:INPUT matched, so its policy ACCEPT let the packet go on.")
        #expect(
            try Self.sentence(Self.drop, packet: 10, "filter:INPUT")
                == "The filter table decides whether the packet may pass: no rule in filter:INPUT matched, so its "
                + "policy DROP dropped the packet (nothing is sent back).")
        #expect(
            try Self.sentence(Self.drop, packet: 1, "filter:FORWARD")
                == "The filter table decides whether the packet may pass: rule 1 in filter:FORWARD matched and "
                + "dropped the packet silently (DROP sends nothing back).")
        #expect(
            try Self.sentence(Self.drop, packet: 2, "filter:FORWARD")
                == "The filter table decides whether the packet may pass: rule 2 in filter:FORWARD matched and REJECT "
                + "dropped the packet; the kernel answers the source with an ICMP error (icmp-port-unreachable), "
                + "which leaves through OUTPUT.")
        #expect(
            try Self.sentence(Self.drop, packet: 3, "raw:OUTPUT")
                == "The kernel itself built this ICMP error (the answer to a REJECT, an expired TTL or a closed port) and sends "
                + "it as a locally generated packet, so it starts at OUTPUT; the raw table runs before conntrack (for "
                + "NOTRACK and TRACE): no rule in raw:OUTPUT matched, so its policy ACCEPT let the packet go on.")
        #expect(
            try Self.sentence(Self.drop, packet: 6, "nat:PREROUTING")
                == "The nat table here is for destination NAT (DNAT, REDIRECT): no rule in nat:PREROUTING matched and "
                + "no later step shows the packet, so it ended here: with TTL 1, ip_forward discards it before "
                + "FORWARD and sends ICMP time exceeded; only a connection's first packet passes the nat chains: "
                + "conntrack records the outcome and translates later packets and replies without them.")
    }

    @Test func locallyGenerated() throws {
        #expect(
            try Self.sentence(Self.output, packet: 1, "raw:OUTPUT")
                == "A local process sent this packet: the route lookup for 172.31.4.20 chose eth0 and the packet "
                + "starts at OUTPUT (locally generated packets never pass PREROUTING); the raw table runs before "
                + "conntrack (for NOTRACK and TRACE): no rule in raw:OUTPUT matched, so its policy ACCEPT let the "
                + "packet go on.")
    }

    @Test func ipv6SaysHopLimitAndNeighbourDiscovery() throws {
        #expect(
            try Self.sentence(Self.ipv6, packet: 1, "mangle:FORWARD")
                == "The routing decision found fd00:2::20 is another host's address, reached through eth1, so with "
                + "forwarding on the packet goes to FORWARD (ip6_forward lowered the hop limit by one first); the "
                + "mangle table is for changing packet fields (TOS, TTL, mark): no rule in mangle:FORWARD matched, so "
                + "its policy ACCEPT let the packet go on.")
        #expect(
            try Self.sentence(Self.ipv6, packet: 1, "mangle:POSTROUTING")
                == "The route chose eth1, so the packet is at POSTROUTING, the last hook before it leaves; then IPv6 "
                + "neighbour discovery (ICMPv6, there is no ARP) finds the next hop's MAC; the mangle table is for "
                + "changing packet fields (TOS, TTL, mark): no rule in mangle:POSTROUTING matched, so its policy "
                + "ACCEPT let the packet go on.")
        #expect(try !Self.walks(Self.ipv6).flatMap(Explain.steps).contains { $0.contains("ARP finds") })
    }

    /// A walk with ebtables LOG steps: each bridge step says which bridge hook it is at, and the IP
    /// steps keep their own sentences (conntrack at the first IP hook, routing at FORWARD).
    @Test func ebtablesStepsSayTheirBridgeHook() throws {
        let capture = (
            "real-captures/07-docker-container-to-external-masquerade.log", [(table: String?, file: String)]()
        )
        #expect(
            try Self.sentence(capture, packet: 1, "filter:INPUT")
                == "The destination MAC is the bridge's own (or a broadcast), so the bridge passes the frame up to "
                + "the host at its INPUT hook, from where the IP stack routes it; an ebtables LOG rule wrote this "
                + "line with the prefix \"TRACE: eb:filter:INPUT\", which names its table and chain (filter:INPUT); "
                + "LOG does not decide, so the frame went on.")
        #expect(
            try Self.sentence(capture, packet: 1, "mangle:FORWARD").hasPrefix(
                "The routing decision found 10.28.61.30 is another host's address, reached through eth0"))
        #expect(
            try Self.sentence(capture, packet: 3, "mangle:PREROUTING").hasPrefix(
                "Conntrack finds this packet is a later packet of the connection packet 1 opened"))
    }

    @Test func bridgedFramesNameBrNetfilterAndThePorts() throws {
        #expect(
            try Self.sentence(Self.bridge, packet: 1, "raw:PREROUTING")
                == "Bridge br0 received this frame on its port veth-a and br_netfilter (bridge-nf-call-iptables=1) "
                + "runs the IP PREROUTING hook for it before the bridge looks up the destination MAC; the raw table "
                + "runs before conntrack (for NOTRACK and TRACE): no rule in raw:PREROUTING matched, so its policy "
                + "ACCEPT let the packet go on.")
        #expect(
            try Self.sentence(Self.bridge, packet: 1, "mangle:FORWARD")
                == "The bridge sends this frame from port veth-a to port veth-b by its destination MAC, and "
                + "br_netfilter runs the IP FORWARD hook for it (no routing decision, the TTL stays as it is); the "
                + "mangle table is for changing packet fields (TOS, TTL, mark): no rule in mangle:FORWARD matched, so "
                + "its policy ACCEPT let the packet go on.")
        #expect(
            try Self.sentence(Self.bridge, packet: 1, "mangle:POSTROUTING")
                == "The bridge is about to send the frame out port veth-b, and br_netfilter runs the IP POSTROUTING "
                + "hook for it; the mangle table is for changing packet fields (TOS, TTL, mark): no rule in "
                + "mangle:POSTROUTING matched, so its policy ACCEPT let the packet go on.")
    }

    // MARK: - Fragments no capture shows, on built walks

    static func step(
        _ table: String, _ chain: String, hook: Hook, kind: StepKind = .rule, rule: Int? = 1, text: String? = nil,
        verdict: StepVerdict?, family: Family = .ipv4, inferred: Bool = false, ttl: UInt8 = 64
    ) -> WalkStep {
        var e = TraceEvent(
            source: SourcePosition(file: "t", line: 1), origin: .kernelTrace, family: family, table: table,
            chain: chain, kind: kind)
        e.hook = hook
        e.rule = rule.map(RuleRef.number)
        e.ruleText = text
        e.inIface = "eth0"
        var h = PacketHeader()
        h.src = IPAddress(family == .ipv6 ? "fd00::1" : "10.0.0.1")
        h.dst = IPAddress(family == .ipv6 ? "fd00::2" : "10.0.0.2")
        h.proto = IPProtocol.tcp
        h.ttl = ttl
        e.header = h
        return WalkStep(event: e, hook: hook, verdict: verdict, verdictInferred: inferred)
    }

    static func walk(_ steps: [WalkStep], family: Family = .ipv4) -> PacketWalk {
        var w = PacketWalk(packet: 1, family: family)
        w.steps = steps
        return w
    }

    @Test func builtWalksCoverTheRest() {
        let goto = Self.walk([
            Self.step("filter", "INPUT", hook: .input, text: "-A INPUT -g WEB", verdict: .goto("WEB"))
        ])
        #expect(Explain.step(goto, at: 0).contains("went to the user chain WEB (goto: no return to this chain)"))
        let redirect = Self.walk([
            Self.step(
                "nat", "PREROUTING", hook: .prerouting, text: "-A PREROUTING -p tcp -j REDIRECT --to-ports 3128",
                verdict: .accept)
        ])
        #expect(Explain.step(redirect, at: 0).contains("set up REDIRECT: the destination becomes this host"))
        let masquerade = Self.walk([
            Self.step("nat", "POSTROUTING", hook: .postrouting, text: "MASQUERADE all -- * * 0.0.0.0/0", verdict: nil)
        ])
        #expect(
            Explain.step(masquerade, at: 0).contains(
                "set up MASQUERADE: the source becomes the address of the out interface"))
        let reject6 = Self.walk(
            [
                Self.step(
                    "filter", "FORWARD", hook: .forward,
                    text: "-A FORWARD -j REJECT --reject-with icmp6-adm-prohibited",
                    verdict: .drop, family: .ipv6)
            ], family: .ipv6)
        #expect(Explain.step(reject6, at: 0).contains("an ICMPv6 error (icmp6-adm-prohibited)"))
        #expect(Explain.step(reject6, at: 0).contains("ip6_forward lowered the hop limit"))
        let reset = Self.walk([
            Self.step(
                "filter", "INPUT", hook: .input, text: "-A INPUT -p tcp -j REJECT --reject-with tcp-reset",
                verdict: .drop)
        ])
        #expect(Explain.step(reset, at: 0).contains("the kernel answers the source with a TCP RST (tcp-reset)"))
        let hop1 = Self.walk(
            [
                Self.step(
                    "mangle", "PREROUTING", hook: .prerouting, kind: .policy, verdict: .drop, family: .ipv6,
                    inferred: true, ttl: 1)
            ], family: .ipv6)
        #expect(
            Explain.step(hop1, at: 0).contains(
                "with hop limit 1, ip6_forward discards it before FORWARD and sends ICMPv6 time exceeded"))
        let gone = Self.walk([
            Self.step("mangle", "PREROUTING", hook: .prerouting, kind: .policy, verdict: .drop, inferred: true)
        ])
        #expect(
            Explain.step(gone, at: 0).contains(
                "the kernel dropped it after this chain, outside the rules (no route, rp_filter, forwarding off)"))
        let security = Self.walk([
            Self.step("security", "FORWARD", hook: .forward, kind: .policy, verdict: .accept)
        ])
        #expect(Explain.step(security, at: 0).contains("the security table sets SELinux labels"))
        let broute = Self.walk(
            [Self.step("broute", "BROUTING", hook: .brouting, kind: .policy, verdict: .accept, family: .bridge)],
            family: .bridge)
        #expect(
            Explain.step(broute, at: 0).hasPrefix(
                "The bridge received this frame and ebtables' broute table decides first whether it is bridged "
                    + "(ACCEPT) or handed up to be routed (DROP); the broute table decides between bridging and routing"
            ))
        let queued = Self.walk([
            Self.step("filter", "INPUT", hook: .input, kind: .policy, verdict: .queue)
        ])
        #expect(Explain.step(queued, at: 0).contains("no rule in filter:INPUT matched, so its policy (queue) applied"))
        let userEnd = Self.walk([
            Self.step("pt", "checks", hook: .forward, kind: .policy, rule: nil, verdict: .accept)
        ])
        #expect(
            Explain.step(userEnd, at: 0).contains(
                "the table pt has a chain at this hook: no rule in the user chain checks decided, so the packet "
                    + "returns to the chain that jumped there (a user chain has no policy)"))
    }

    @Test func pathtracesOwnNftStepsSayTheyOnlyMark() throws {
        let r = try ReplayHarness.run(["captures/nft-monitor-libvirt-nat-nft.txt"])
        let walk = try #require(r.walks.first)
        let own = try #require(walk.steps.firstIndex { $0.event.table.hasPrefix("pathtrace_") })
        #expect(
            Explain.step(walk, at: own).contains(
                "pathtrace's own table pathtrace_6fa2f802 only marks the packet for tracing (meta nftrace set 1)"))
        // Folded away, the first step shown still says why the packet is at its hook.
        let first = try #require(walk.steps.firstIndex { !$0.event.table.hasPrefix("pathtrace_") })
        #expect(Explain.step(walk, at: first).hasPrefix("The packet arrived on virbr0 and is at PREROUTING"))
    }

    // MARK: - Every sentence of every capture is made of pinned fragments

    /// How each fragment (split at "; ") of a sentence starts, with a case above that pins it.
    static let fragments = [
        "the packet arrived on ", "bridge br0 received this frame on its port", "the routing decision found ",
        "the bridge sends this frame from port", "the kernel itself built this icmp",
        "a local process sent this packet",
        "the bridge is about to send the frame out port", "the route chose ", "then arp finds the next hop's mac",
        "then ipv6 neighbour discovery", "conntrack finds this packet is a ", "the raw table runs before conntrack",
        "the mangle table is for changing", "the nat table here is for destination nat",
        "the nat table here is for source nat", "the filter table decides whether", "the table pt has a chain",
        "a log rule wrote this line", "only a connection's first packet passes the nat chains",
        "the kernel answers the source with an icmp", "the security table", "the broute table",
        "the bridge received this frame and ebtables",
    ]

    @Test func everySentenceOfEveryCaptureIsMadeOfPinnedFragments() throws {
        let cases = [Self.libvirt, Self.dnat, Self.drop, Self.ipv6, Self.output, Self.bridge, Self.seed]
        var count = 0
        for c in cases {
            for walk in try Self.walks(c) {
                for sentence in Explain.steps(walk) {
                    #expect(sentence.hasSuffix("."))
                    #expect(sentence.first?.isUppercase == true)
                    for fragment in sentence.dropLast().components(separatedBy: "; ") {
                        let lower = fragment.lowercased()
                        #expect(Self.fragments.contains { lower.hasPrefix($0) }, "unpinned: \(fragment)")
                        count += 1
                    }
                }
            }
        }
        #expect(count > 500)
    }

    // MARK: - JSON

    @Test func jsonCarriesExplainOnlyWhenAsked() throws {
        let walk = try #require(try Self.walks(Self.seed).first)
        let plain = JSONWriter()
        WalkJSON.write(walk, to: plain)
        #expect(!String(decoding: plain.buffer, as: UTF8.self).contains("\"explain\""))
        let explained = JSONWriter()
        WalkJSON.write(walk, to: explained, explain: true)
        let line = String(decoding: explained.buffer, as: UTF8.self)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.map { $0["explain"] as? String } == Explain.steps(walk))
    }
}

/// For the seed sample and the libvirt-nat capture, `--explain`, `--show-flow` and the timeline list the same
/// steps in the same order.
@Suite struct ExplainFlowTimelineAgreeTests {
    /// `table:chain` of each step line of a timeline rendered with --explain, and the sentence under it.
    static func timeline(_ walk: PacketWalk) -> [(chain: String, explain: String)] {
        let text = TextTimeline(options: RenderOptions(explain: true)).render(walk)
        let lines = text.split(separator: "\n").map(String.init)
        var out: [(chain: String, explain: String)] = []
        for (i, line) in lines.enumerated() where line.hasPrefix("  +") && i + 1 < lines.count {
            let words = line.split(separator: " ")
            let chain = words.first { $0.contains(":") && !$0.hasPrefix("+") }.map(String.init) ?? "?"
            out.append((chain, lines[i + 1].trimmingCharacters(in: .whitespaces)))
        }
        return out
    }

    /// `table:chain` of the numbered step list under the `--show-flow` diagram, in number order.
    static func flow(_ walk: PacketWalk) -> [String] {
        FlowLayout.text(of: walk).split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard words.count >= 2, Int(words[0]) != nil, words[1].contains(":") else { return nil }
            return String(words[1])
        }
    }

    @Test(arguments: [
        ("seed/001-libvirt-nat.dmesg", [("filter" as String?, "seed/001-filter.nvL"), ("nat", "seed/001-nat.nvL")]),
        ("captures/libvirt-nat.dmesg", [(nil as String?, "captures/libvirt-nat.rules")]),
    ])
    func sameStepsSameOrder(_ file: String, _ rulesets: [(String?, String)]) throws {
        let walks = try ReplayHarness.run([file], rulesets: rulesets.map { (table: $0.0, file: $0.1) }).walks
        #expect(!walks.isEmpty)
        for walk in walks {
            let chains = walk.steps.map { "\($0.event.table):\($0.event.chain)" }
            let shown = Self.timeline(walk)
            #expect(shown.map(\.chain) == chains, "timeline of packet \(walk.packet)")
            #expect(Self.flow(walk) == chains, "flow of packet \(walk.packet)")
            #expect(shown.map(\.explain) == Explain.steps(walk), "explain of packet \(walk.packet)")
            for (chain, sentence) in shown {
                #expect(sentence.contains(chain), "the sentence names its step: \(sentence)")
            }
        }
    }
}
