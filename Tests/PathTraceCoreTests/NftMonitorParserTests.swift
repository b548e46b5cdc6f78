import PathTraceCore
import Testing

@Suite struct NftMonitorParserTests {
    // MARK: captured here: nftables 1.0.6 on Linux 6.18, see scripts/capture-monitor-fixtures.sh

    static let forward = "captures/nft-monitor-forward.txt"
    static let forwardHandles = "captures/nft-monitor-forward-handles.txt"
    /// The SYN's steps in the forward capture, the same for IPv4 and IPv6 (one inet table).
    static let forwardSYNSteps = [
        "pt:pre rule continue", "pt:pre rule continue", "pt:pre policy accept", "pt:prerouting rule accept",
        "pt:forward rule jump checks", "pt:checks rule return", "pt:forward policy accept",
        "pt:postrouting rule accept",
    ]

    @Test func captureParsesEveryLine() throws {
        let r = try MonitorParsing.fixture(Self.forward)
        #expect(r.skipped.isEmpty)
        #expect(r.events.count == 120)
        for e in r.events {
            #expect(e.origin == .nftMonitor)
            #expect(e.tableFamily == "inet")
            #expect(e.table == "pt")
            #expect(e.header != nil)
            #expect(e.inIface == "r0")
        }
    }

    @Test func tcpSynWalkThroughDNATAndMasquerade() throws {
        let events = try MonitorParsing.fixture(Self.forward).events
        let syn = events.filter { $0.family == .ipv4 && $0.header?.tcpFlags == .syn }
        #expect(syn.map(MonitorParsing.step) == Self.forwardSYNSteps)
        #expect(syn.map(\.hook) == [nil, nil, nil, .prerouting, .forward, nil, .forward, .postrouting])
        #expect(
            syn.map(\.ruleText) == [
                "tcp dport 8080 meta nftrace set 1",
                "tcp dport 8080 meta mark set 0x00000042",
                nil,
                "meta nfproto ipv4 tcp dport 8080 dnat ip to 10.77.2.2:80",
                "jump checks",
                "tcp dport 80 counter packets 0 bytes 0 return",
                nil,
                "oifname \"r1\" masquerade",
            ])
        #expect(Set(syn.compactMap(\.traceID)).count == 1)
        #expect(syn.allSatisfy { $0.rule == nil })

        // The nat chain's dump still has the original destination ...
        let dnat = try #require(syn[3].header)
        #expect(dnat.dst == IPAddress("10.77.1.1") && dnat.dport == 8080)
        #expect(dnat.src == IPAddress("10.77.1.2"))
        #expect(dnat.proto == IPProtocol.tcp)
        #expect(dnat.ttl == 64 && dnat.length == 60 && dnat.tos == 0 && dnat.window == 64240)
        #expect(syn[3].outIface == nil)
        // ... the next base chain's dump shows the rewrite, after routing (oif, TTL).
        let fwd = try #require(syn[4].header)
        #expect(fwd.dst == IPAddress("10.77.2.2") && fwd.dport == 80)
        #expect(fwd.ttl == 63)
        #expect(fwd.ipID == dnat.ipID)
        #expect(syn[4].outIface == "r1")
        // Policy lines print the mark; it lands in the event's header.
        #expect(syn[2].header?.mark == 0x42)
        #expect(syn[6].header?.mark == 0x42)
        #expect(syn[3].header?.mark == nil)
        // MACs as nft prints them: zero-padded already.
        #expect(dnat.macSrc?.utf8.count == 17)
        #expect(dnat.extra == [])
    }

    @Test func tcpFlagsAsHex() throws {
        let events = try MonitorParsing.fixture(Self.forward).events
        // nft 1.0.6 prints psh|ack as `tcp flags == 0x18`, rst|ack as `0x14`.
        #expect(events.contains { $0.header?.tcpFlags == [.psh, .ack] })
        #expect(events.contains { $0.header?.tcpFlags == [.rst, .ack] })
    }

    @Test func udpDrop() throws {
        let events = try MonitorParsing.fixture(Self.forward).events
        let udp = events.filter { $0.header?.proto == IPProtocol.udp }
        #expect(
            udp.map(MonitorParsing.step) == [
                "pt:pre rule continue",
                "pt:pre policy accept",
                "pt:prerouting policy accept",
                "pt:forward rule jump checks",
                "pt:checks rule continue",
                "pt:forward rule drop",
            ])
        let drop = try #require(udp.last)
        #expect(drop.ruleText == "udp dport 5353 counter packets 0 bytes 0 drop")
        #expect(drop.header?.dport == 5353)
        #expect(drop.header?.extra == ["udp length 18", "@th,64,80 0x7061746874726163650a"])
    }

    @Test func icmpEcho() throws {
        let events = try MonitorParsing.fixture(Self.forward).events
        let echo = events.filter { $0.family == .ipv4 && $0.header?.proto == IPProtocol.icmp }
        #expect(echo.count == 7)
        let h = try #require(echo.first?.header)
        #expect(h.icmpType == 8)
        // Printed as `icmp code net-unreachable`: nft names code 0 after destination-unreachable.
        #expect(h.icmpCode == 0)
        #expect(h.icmpID == 0x7074 && h.icmpSeq == 1)
        #expect(echo.last.map(MonitorParsing.step) == "pt:postrouting rule accept")
    }

    @Test func ipv6TCPAndEcho() throws {
        let events = try MonitorParsing.fixture(Self.forward).events
        let v6 = events.filter { $0.family == .ipv6 }
        #expect(!v6.isEmpty)
        #expect(v6.allSatisfy { $0.header?.src?.description == "fd00:77:1::2" })

        let syn = v6.filter { $0.header?.tcpFlags == .syn }
        #expect(syn.map(MonitorParsing.step) == Self.forwardSYNSteps)
        #expect(syn[3].ruleText == "meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd00:77:2::2]:80")
        #expect(syn[3].header?.dst?.description == "fd00:77:1::1")
        #expect(syn[4].header?.dst?.description == "fd00:77:2::2")
        #expect(syn[4].header?.dport == 80)
        #expect(syn[4].header?.ttl == 63)
        // `ip6 length 40` is the payload length; the model holds payload + 40.
        #expect(syn[0].header?.length == 80)
        #expect(syn[0].header?.extra.first?.hasPrefix("ip6 flowlabel ") == true)

        let echo = v6.filter { $0.header?.proto == IPProtocol.icmpv6 }
        #expect(echo.count == 7)
        let h = try #require(echo.first?.header)
        #expect(h.dst?.description == "fd00:77:2::2")
        #expect(h.icmpType == 128 && h.icmpCode == 0)
        // nft 1.0.6 prints the echo id and sequence as `icmpv6 parameter-problem 1886650369`.
        #expect(h.icmpID == 0x7074 && h.icmpSeq == 1)
        #expect(h.length == 64)
    }

    @Test func handlesFromNftDashA() throws {
        let plain = try MonitorParsing.fixture(Self.forward)
        let withHandles = try MonitorParsing.fixture(Self.forwardHandles)
        #expect(withHandles.skipped.isEmpty)
        #expect(withHandles.events.count == plain.events.count)
        // Same records, same rule text; `# handle N` only adds the rule reference.
        #expect(withHandles.events.map(\.ruleText) == plain.events.map(\.ruleText))
        #expect(withHandles.events.map(MonitorParsing.step) == plain.events.map(MonitorParsing.step))
        let rules = withHandles.events.filter { $0.kind == .rule }
        #expect(rules.allSatisfy { if case .handle = $0.rule { true } else { false } })
        let dnat = try #require(rules.first { $0.chain == "prerouting" })
        #expect(dnat.rule == .handle(11))
        #expect(rules.first { $0.chain == "postrouting" }?.rule == .handle(17))
    }

    // MARK: synthetic lines

    @Test func recordKinds() throws {
        let text = """
            trace id 0000002a ip filter input packet: iif "eth0" ip saddr 192.0.2.1 ip daddr 192.0.2.2 ip ttl 64 \
            ip id 1 ip length 40 tcp sport 1234 tcp dport 22 tcp flags == syn | ack tcp window 100
            trace id 0000002a ip filter input unknown rule handle 17 (verdict accept)
            trace id 0000002a ip filter input rule ip saddr 192.0.2.1 counter packets 1 bytes 40 # handle 5 (verdict jump x)
            trace id 0000002a ip filter x rule tcp dport 22 return (verdict return)
            trace id 0000002a ip filter x verdict continue meta mark 0x00000007
            trace id 0000002a ip filter input verdict return
            trace id 0000002a ip filter input policy drop
            """
        let r = MonitorParsing.parse(text)
        #expect(r.skipped.isEmpty)
        #expect(
            r.events.map(MonitorParsing.step) == [
                "filter:input rule accept",
                "filter:input rule jump x",
                "filter:x rule return",
                "filter:x return continue",
                "filter:input return return",
                "filter:input policy drop",
            ])
        #expect(r.events[0].rule == .handle(17) && r.events[0].ruleText == nil)
        #expect(r.events[1].rule == .handle(5))
        #expect(r.events[1].ruleText == "ip saddr 192.0.2.1 counter packets 1 bytes 40")
        #expect(r.events[3].header?.mark == 7)
        #expect(r.events[4].header?.mark == nil)
        for e in r.events {
            #expect(e.family == .ipv4 && e.tableFamily == "ip" && e.traceID == 42)
            #expect(e.inIface == "eth0" && e.outIface == nil)
            #expect(e.header?.tcpFlags == [.syn, .ack])
            #expect(e.header?.proto == IPProtocol.tcp)
        }
        #expect(r.events[0].hook == .input && r.events[2].hook == nil)
    }

    @Test func trailingSpacesDoNotMatter() throws {
        let stripped = """
            trace id 9c96e6c7 inet pt pre packet: iif "r0" ip saddr 10.0.0.1 ip daddr 10.0.0.2 ip protocol udp udp sport 1 udp dport 2
            trace id 9c96e6c7 inet pt pre policy accept
            """
        let padded = stripped.split(separator: "\n").map { $0 + " " }.joined(separator: "\n")
        let a = MonitorParsing.parse(stripped, file: "x")
        let b = MonitorParsing.parse(padded, file: "x")
        #expect(a.events == b.events)
        #expect(a.events.count == 1)
        #expect(a.events.first?.header?.dport == 2)
    }

    @Test func conntrackLineGoesIntoExtra() throws {
        let text = """
            trace id 00000020 inet t c conntrack: ct direction original ct state new ct status dnat-done ct id 32 
            trace id 00000020 inet t c packet: iif "eth0" ip saddr 10.0.0.1 ip daddr 10.0.0.2 ip dscp af41 ip ecn ce \
            ip protocol icmp icmp type destination-unreachable icmp code port-unreachable @th,64,96 0x45 
            trace id 00000020 inet t c rule accept (verdict accept)
            """
        let r = MonitorParsing.parse(text)
        #expect(r.skipped.isEmpty)
        let h = try #require(r.events.first?.header)
        #expect(
            h.extra == ["@th,64,96 0x45", "ct direction original", "ct state new", "ct status dnat-done", "ct id 32"])
        #expect(h.icmpType == 3 && h.icmpCode == 3)
        // TOS = DSCP af41 (34) << 2 | ECN ce (3).
        #expect(h.tos == 139)
    }

    @Test func familiesFromTableAndPacket() throws {
        let text = """
            trace id 00000001 ip6 filter input packet: ip6 saddr 2001:db8::1 ip6 daddr 2001:db8::2 ip6 nexthdr icmpv6 \
            icmpv6 type nd-neighbor-solicit icmpv6 code no-route
            trace id 00000001 ip6 filter input policy accept
            trace id 00000002 bridge filter forward packet: iif "veth0" oif "veth1" ether saddr 02:00:00:00:00:01 \
            ether daddr 02:00:00:00:00:02 ether type ip ip saddr 10.0.0.1 ip daddr 10.0.0.2
            trace id 00000002 bridge filter forward policy accept
            trace id 00000003 netdev t ingress packet: iif "eth0" ether saddr 02:00:00:00:00:01 ether daddr ff:ff:ff:ff:ff:ff \
            arp htype 1 arp ptype ip arp operation request arp saddr ip 10.0.0.1 arp daddr ip 10.0.0.2
            trace id 00000003 netdev t ingress policy accept
            trace id 00000004 inet t c policy accept
            """
        let r = MonitorParsing.parse(text)
        #expect(r.skipped.isEmpty)
        #expect(r.events.map(\.family) == [.ipv6, .bridge, .arp, .ipv4])
        #expect(r.events[0].header?.icmpType == 135)
        #expect(r.events[0].header?.src?.description == "2001:db8::1")
        #expect(r.events[1].header?.macProto == 0x0800)
        #expect(r.events[1].hook == .forward)
        #expect(r.events[2].header?.dst == IPAddress("10.0.0.2"))
        #expect(r.events[2].header?.extra == ["arp htype 1", "arp ptype ip", "arp operation request"])
        #expect(r.events[3].header == nil)
    }

    @Test func packetStoreIsBounded() throws {
        var lines: [String] = []
        for id in 0..<1100 {
            lines.append("trace id \(hex8(id)) ip t c packet: ip saddr 10.0.0.1 ip daddr 10.0.0.2")
        }
        lines.append("trace id \(hex8(0)) ip t c policy accept")
        lines.append("trace id \(hex8(1099)) ip t c policy accept")
        let r = MonitorParsing.parse(lines.joined(separator: "\n"))
        #expect(r.skipped.isEmpty)
        #expect(r.events.count == 2)
        #expect(r.events[0].header == nil)
        #expect(r.events[1].header?.dst == IPAddress("10.0.0.2"))
    }

    @Test func otherLinesAreNotMine() {
        let text = """
            # nft monitor trace
            add rule inet pt pre tcp dport 8080 meta nftrace set 1
            trace id 00000001 inet t c frobnicate
            """
        let r = MonitorParsing.parse(text)
        #expect(r.events.isEmpty)
        #expect(r.skipped.count == 3)
        #expect(r.skipped[2].reason.contains("nft trace"))
    }

    func hex8(_ v: Int) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}
