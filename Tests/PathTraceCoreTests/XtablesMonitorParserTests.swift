import PathTraceCore
import Testing

@Suite struct XtablesMonitorParserTests {
    // MARK: a public capture: Kubernetes ClusterIP, locally generated, iptables-nft (glued ID=…DF)

    static let k8s = "real-captures/15-xtables-monitor-k8s-clusterip-output-dnat.log"

    @Test func k8sCaptureParsesEveryLine() throws {
        let r = try MonitorParsing.fixture(Self.k8s)
        #expect(r.skipped.isEmpty)
        #expect(r.events.count == 135)
        #expect(r.events.allSatisfy { $0.origin == .xtablesMonitor && $0.family == .ipv4 && $0.tableFamily == "ip" })
        #expect(r.events.filter { $0.traceID == 0x0427_ffe5 }.count == 40)
    }

    @Test func k8sDNATRuleAndTheChainAfterIt() throws {
        let events = try MonitorParsing.fixture(Self.k8s).events
        let i = try #require(events.firstIndex { $0.chain == "KUBE-SEP-OYNVDBAPYJ623W6H" })
        let dnat = events[i]
        #expect(dnat.table == "nat")
        #expect(dnat.kind == .rule)
        #expect(dnat.rule == .handle(0x4721))
        #expect(dnat.verdict == .accept)
        #expect(dnat.hook == nil)
        #expect(dnat.ruleText?.contains("--to-destination 10.42.54.194:9898") == true)
        #expect(dnat.ruleText?.hasPrefix("-4 -t nat -A KUBE-SEP-OYNVDBAPYJ623W6H -p tcp") == true)
        // The nat chain saw the ClusterIP; the next base chain's dump shows the DNATed address and the
        // mark KUBE-MARK-MASQ set.
        #expect(dnat.header?.dst == IPAddress("10.43.156.98"))
        let next = events[i + 1]
        #expect(next.table == "filter" && next.chain == "OUTPUT")
        #expect(next.hook == .output)
        #expect(next.verdict == .jump("cali-OUTPUT"))
        #expect(next.header?.dst == IPAddress("10.42.54.194"))
        #expect(next.header?.mark == 0x4000)
        #expect(next.outIface == "enp3s0")
        #expect(next.inIface == nil)
    }

    @Test func k8sSynHeader() throws {
        let syn = try MonitorParsing.fixture(Self.k8s).events.filter { $0.traceID == 0x0427_ffe5 }
        #expect(syn.count == 40)
        for e in syn {
            let h = try #require(e.header)
            #expect(h.tcpFlags == .syn)
            #expect(h.proto == IPProtocol.tcp)
            #expect(h.ipID == 45471)
            #expect(h.ipFlags == .df)
            #expect(h.src == IPAddress("192.168.1.88"))
            #expect(h.sport == 49058 && h.dport == 9898)
            #expect(h.length == 60 && h.ttl == 64 && h.tos == 0)
            #expect(h.extra.isEmpty)
        }
        // Chains and verdicts of the first packet through OUTPUT.
        #expect(
            syn.prefix(6).map(MonitorParsing.step) == [
                "raw:OUTPUT rule continue",
                "raw:OUTPUT return continue",
                "raw:OUTPUT policy accept",
                "mangle:OUTPUT return continue",
                "mangle:OUTPUT policy accept",
                "nat:OUTPUT rule jump cali-OUTPUT",
            ])
        // The last base chain re-routed the packet to the VXLAN device.
        #expect(syn.last?.outIface == "vxlan.calico")
        #expect(syn.last?.verdict == .accept)
        #expect(syn.last?.ruleText?.hasSuffix("-j MASQUERADE --random-fully") == true)
    }

    @Test func k8sLaterPacketsHaveTheirOwnFlags() throws {
        let events = try MonitorParsing.fixture(Self.k8s).events
        let psh = events.filter { $0.traceID == 0xdcb4_a012 }
        #expect(psh.first?.header?.tcpFlags == [.ack, .psh])
        #expect(psh.first?.header?.length == 133)
        let fin = events.filter { $0.traceID == 0xf652_01fb }
        #expect(fin.first?.header?.tcpFlags == [.ack, .fin])
    }

    // MARK: synthetic lines for the printer's quirks

    @Test func gluedIDAndPortAndUnpaddedMAC() throws {
        let text = """
            PACKET: 2 0000abcd IN=eth0 MACSRC=2:42:AC:11:0:2 MACDST=2:42:ac:11:0:3 MACPROTO=0800 \
            SRC=172.17.0.2 DST=172.17.0.3 LEN=40 TOS=0x10 TTL=63 ID=43007SPORT=80 DPORT=33000 ACK RST
             TRACE: 2 0000abcd filter:DOCKER:rule:0x2a:DROP  -4 -t filter -A DOCKER -j DROP
            """
        let r = MonitorParsing.parse(text)
        #expect(r.skipped.isEmpty)
        let e = try #require(r.events.first)
        let h = try #require(e.header)
        #expect(h.ipID == 43007)
        #expect(h.ipFlags.isEmpty)
        #expect(h.sport == 80 && h.dport == 33000)
        #expect(h.tcpFlags == [.ack, .rst])
        #expect(h.tos == 0x10 && h.ttl == 63 && h.length == 40)
        #expect(h.macSrc == "02:42:ac:11:00:02")
        #expect(h.macDst == "02:42:ac:11:00:03")
        #expect(h.macProto == 0x0800)
        #expect(e.inIface == "eth0" && e.outIface == nil)
        #expect(e.rule == .handle(0x2a))
        #expect(e.verdict == .drop)
        #expect(e.chain == "DOCKER" && e.hook == nil)
        #expect(e.ruleText == "-4 -t filter -A DOCKER -j DROP")
    }

    @Test func gluedFlagsFragmentsAndOptions() throws {
        let text = """
            PACKET: 2 00000001 IN=eth0 SRC=10.0.0.1 DST=10.0.0.2 LEN=1500 TOS=0x0 TTL=64 ID=7CE DF MF FRAG:185 \
            OPT (07270400)SPORT=5000 DPORT=53 MARK=0x1
             TRACE: 2 00000001 raw:PREROUTING:policy:ACCEPT 
            """
        let e = try #require(MonitorParsing.parse(text).events.first)
        let h = try #require(e.header)
        #expect(h.ipID == 7)
        #expect(h.ipFlags == [.ce, .df, .mf])
        #expect(h.fragment == 185)
        #expect(h.extra == ["OPT (07270400)"])
        #expect(h.sport == 5000 && h.dport == 53)
        #expect(h.proto == nil)
        #expect(h.mark == 1)
        #expect(e.kind == .policy && e.verdict == .accept && e.hook == .prerouting)
    }

    @Test func ipv6LengthIsCorrected() throws {
        let text = """
            PACKET: 10 5a50049e IN=r0 MACSRC=46:57:f2:9d:d0:42 MACDST=12:54:c:27:59:cd MACPROTO=86dd \
            SRC=fd00:77:1::2 DST=fd00:77:2::2 LEN=44 TC=0 HOPLIMIT=64 FLOWLBL=362166 
             TRACE: 10 5a50049e raw:PREROUTING:rule:0x2:CONTINUE  -6 -t raw -A PREROUTING -p ipv6-icmp -j TRACE
            """
        let e = try #require(MonitorParsing.parse(text).events.first)
        #expect(e.family == .ipv6 && e.tableFamily == "ip6")
        let h = try #require(e.header)
        // Printed as payload (24) + 20; the model wants payload + 40.
        #expect(h.length == 64)
        #expect(h.ttl == 64 && h.tos == 0)
        #expect(h.src?.description == "fd00:77:1::2")
        #expect(h.macDst == "12:54:0c:27:59:cd")
        #expect(h.extra == ["FLOWLBL=362166"])
    }

    @Test func verdictForms() throws {
        let text = """
             TRACE: 2 00000002 filter:FORWARD:rule:0x5:JUMP:PT-CHECKS  -4 -t filter -A FORWARD -j PT-CHECKS
             TRACE: 2 00000002 filter:PT-CHECKS:rule:0x2:0xfffffffb  -4 -t filter -A PT-CHECKS -j RETURN
             TRACE: 2 00000002 filter:X:rule:0x3:GOTO:Y  -4 -t filter -A X -g Y
             TRACE: 2 00000002 filter:Y:rule:0x4:QUEUE
             TRACE: 2 00000002 filter:Y:rule:0x5:0x10003
             TRACE: 2 00000002 filter:Y:return:
             TRACE: 2 00000002 filter:FORWARD:policy:DROP
            """
        let r = MonitorParsing.parse(text)
        #expect(r.skipped.isEmpty)
        #expect(
            r.events.map { $0.verdict } == [.jump("PT-CHECKS"), .return, .goto("Y"), .queue, .queue, .continue, .drop])
        #expect(r.events.map { $0.kind } == [.rule, .rule, .rule, .rule, .rule, .return, .policy])
        // No PACKET line came first (the pre-2020 order): the records carry no header.
        #expect(r.events.allSatisfy { $0.header == nil })
        #expect(r.events[3].ruleText == nil)
    }

    @Test func pre2020OrderPacketAfterTrace() throws {
        let text = """
             TRACE: 2 1a2b3c4d raw:PREROUTING:rule:0x3:CONTINUE  -4 -t raw -A PREROUTING -p icmp -j TRACE
            PACKET: 0 1a2b3c4d IN=eth0 SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x0 TTL=64 ID=1DF 
             TRACE: 2 1a2b3c4d raw:PREROUTING:policy:ACCEPT 
            """
        let r = MonitorParsing.parse(text)
        #expect(r.skipped.isEmpty)
        #expect(r.events.count == 2)
        #expect(r.events[0].header == nil)
        #expect(r.events[1].header?.dst == IPAddress("10.0.0.2"))
        #expect(r.events[1].header?.ipFlags == .df)
    }

    @Test func otherFormatsAreNotClaimed() {
        let text = """
            TRACE: raw:PREROUTING:rule:1 IN=eth0 OUT= MAC=00:11:22:33:44:55:66:77:88:99:aa:bb:08:00 SRC=10.0.0.1
            trace id 0427ffe5 ip filter OUTPUT policy accept
            """
        let r = MonitorParsing.parse(text)
        #expect(!r.events.contains { $0.origin == .xtablesMonitor })
    }

    @Test func brokenTraceIsMalformed() {
        let r = MonitorParsing.parse(" TRACE: 2 00000002 filter:FORWARD:jump:whatever")
        #expect(r.events.isEmpty)
        #expect(r.skipped.first?.reason.contains("xtables-monitor") == true)
    }

    // MARK: captured here: iptables-nft 1.8.9 on Linux 6.18, see scripts/capture-monitor-fixtures.sh

    static let forward = "captures/xtables-monitor-forward.txt"

    @Test func forwardCaptureParsesEveryLine() throws {
        let r = try MonitorParsing.fixture(Self.forward)
        #expect(r.skipped.isEmpty)
        #expect(r.events.count == 62)
        for e in r.events {
            #expect(e.header != nil)
            #expect(e.header?.macSrc?.utf8.count == 17)
            #expect(e.inIface == "r0")
        }
    }

    @Test func forwardTCPSynWalk() throws {
        let events = try MonitorParsing.fixture(Self.forward).events
        let syn = events.filter { $0.header?.tcpFlags == .syn }
        #expect(
            syn.map(MonitorParsing.step) == [
                "raw:PREROUTING rule continue",
                "raw:PREROUTING policy accept",
                "mangle:PREROUTING rule continue",
                "mangle:PREROUTING policy accept",
                "nat:PREROUTING rule accept",
                "filter:FORWARD rule jump PT-CHECKS",
                "filter:PT-CHECKS rule return",
                "filter:FORWARD policy accept",
                "nat:POSTROUTING rule accept",
            ])
        #expect(
            syn.map(\.hook) == [
                .prerouting, .prerouting, .prerouting, .prerouting, .prerouting, .forward, nil, .forward, .postrouting,
            ])
        #expect(Set(syn.compactMap(\.traceID)).count == 1)
        let dnat = syn[4]
        #expect(
            dnat.ruleText == "-4 -t nat -A PREROUTING -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.77.2.2:80")
        #expect(dnat.header?.dst == IPAddress("10.77.1.1") && dnat.header?.dport == 8080)
        // A chain's dump is taken with its first event, after that rule ran: the mangle chain's
        // first event is the MARK rule itself, so its dump already shows the mark; raw's does not.
        #expect(syn[0].header?.mark == nil)
        #expect(syn[2].header?.mark == 0x42)
        #expect(dnat.header?.mark == 0x42)
        // DNAT shows in the next base chain's dump, with the TTL already decremented.
        let forward = syn[5]
        #expect(forward.header?.dst == IPAddress("10.77.2.2") && forward.header?.dport == 80)
        #expect(forward.header?.ttl == 63)
        #expect(forward.outIface == "r1")
        #expect(syn[8].ruleText == "-4 -t nat -A POSTROUTING -o r1 -j MASQUERADE")
    }

    @Test func forwardUDPDrop() throws {
        let events = try MonitorParsing.fixture(Self.forward).events
        let udp = events.filter { $0.header?.dport == 5353 }
        #expect(udp.last.map(MonitorParsing.step) == "filter:FORWARD rule drop")
        #expect(udp.last?.ruleText == "-4 -t filter -A FORWARD -p udp -m udp --dport 5353 -j DROP")
        #expect(udp.last?.header?.proto == nil)
        #expect(udp.map(MonitorParsing.step).contains("filter:PT-CHECKS rule continue"))
    }

    @Test func forwardIPv6Echo() throws {
        let events = try MonitorParsing.fixture(Self.forward).events
        let v6 = events.filter { $0.family == .ipv6 }
        #expect(
            v6.map(MonitorParsing.step) == [
                "raw:PREROUTING rule continue", "raw:PREROUTING policy accept", "filter:FORWARD rule accept",
            ])
        for e in v6 {
            #expect(e.tableFamily == "ip6")
            #expect(e.header?.src?.description == "fd00:77:1::2")
            #expect(e.header?.dst?.description == "fd00:77:2::2")
            #expect(e.header?.length == 64)
        }
        #expect(v6.last?.header?.ttl == 63)
    }
}
