import PathTraceCore
import TestSupport
import Testing

/// Events and skipped lines from running `TraceLineParser` over some text.
struct ParseResult {
    var events: [TraceEvent] = []
    var skipped: [SkippedLine] = []

    var traces: [TraceEvent] { events.filter { $0.origin == .kernelTrace } }
    var ebtables: [TraceEvent] { events.filter { $0.origin == .ebtablesLog } }
    var logs: [TraceEvent] { events.filter { $0.origin == .logTarget } }
}

func parseLines(_ text: String, file: String = "test.log") -> ParseResult {
    var parser = TraceLineParser(file: file)
    var result = ParseResult()
    var number = 0
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        number += 1
        var copy = String(line)
        _ = copy.withUTF8 { bytes in
            parser.parse(
                line: bytes, lineNumber: number, emit: { result.events.append($0) },
                onSkip: { result.skipped.append($0) })
        }
    }
    return result
}

/// The single event of a one-line input.
func single(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> TraceEvent {
    let result = parseLines(line)
    #expect(result.skipped.isEmpty, "skipped: \(result.skipped)", sourceLocation: sourceLocation)
    #expect(result.events.count == 1, sourceLocation: sourceLocation)
    return try #require(result.events.first, sourceLocation: sourceLocation)
}

func ip(_ text: String) -> IPAddress? { IPAddress(text) }

// MARK: - The seed (libvirt NAT, raw dmesg)

@Suite struct KernelSeedTests {
    let result: ParseResult

    init() throws {
        result = parseLines(try Fixtures.text("seed/001-libvirt-nat.dmesg"), file: "001-libvirt-nat.dmesg")
    }

    @Test func sevenTraceRecords() {
        #expect(result.skipped.isEmpty)
        #expect(result.events.count == 7)
        #expect(result.events.allSatisfy { $0.origin == .kernelTrace && $0.family == .ipv4 })
        #expect(result.events.map(\.table) == ["raw", "mangle", "nat", "mangle", "filter", "mangle", "nat"])
        #expect(
            result.events.map(\.chain) == [
                "PREROUTING", "PREROUTING", "PREROUTING", "FORWARD", "FORWARD", "POSTROUTING", "POSTROUTING",
            ])
        #expect(result.events.map(\.kind) == [.policy, .policy, .policy, .policy, .rule, .policy, .rule])
        #expect(result.events.map(\.rule) == [3, 1, 1, 1, 2, 4, 3].map { RuleRef.number($0) })
        #expect(
            result.events.map(\.hook) == [
                .prerouting, .prerouting, .prerouting, .forward, .forward, .postrouting, .postrouting,
            ])
        #expect(result.events.map(\.source.line) == Array(1...7))
        #expect(result.events.allSatisfy { $0.source.file == "001-libvirt-nat.dmesg" })
    }

    @Test func headersFollowThePacket() throws {
        let headers = result.events.compactMap(\.header)
        #expect(headers.count == 7)
        #expect(headers.map(\.ttl) == [64, 64, 64, 63, 63, 63, 63])
        for h in headers {
            #expect(h.src == ip("192.168.122.17"))
            #expect(h.dst == ip("10.44.32.217"))
            #expect(h.ipID == 14247)
            #expect(h.length == 60)
            #expect(h.tos == 0)
            #expect(h.ipFlags == [.df])
            #expect(h.proto == IPProtocol.tcp)
            #expect(h.sport == 42954)
            #expect(h.dport == 3128)
            #expect(h.tcpSeq == 3_127_975_600)
            #expect(h.tcpAck == 0)
            #expect(h.window == 29200)
            #expect(h.tcpFlags == [.syn])
            #expect(h.extra == ["OPT (020405B40402080A10B629170000000001030307)"])
            #expect(h.icmpID == nil)
            #expect(h.incompleteBytes == nil)
        }
    }

    @Test func interfacesAndMACs() throws {
        let e = result.events
        #expect(e.map(\.inIface) == ["virbr0", "virbr0", "virbr0", "virbr0", "virbr0", nil, nil])
        #expect(e.map(\.outIface) == [nil, nil, nil, "bond0", "bond0", "bond0", "bond0"])
        let first = try #require(e.first?.header)
        #expect(first.macDst == "52:54:00:da:ec:4f")
        #expect(first.macSrc == "52:54:00:a4:5e:56")
        #expect(first.macProto == 0x0800)
        // POSTROUTING has no input device, hence no MAC.
        let last = try #require(e.last?.header)
        #expect(last.macSrc == nil && last.macDst == nil && last.macProto == nil)
    }

    @Test func dmesgTimestamps() {
        #expect(result.events.first?.time == 5_121_056.357116)
        #expect(result.events.last?.time == 5_121_056.357150)
        #expect(result.events.allSatisfy { $0.prefix == nil })
    }

    @Test func theLogTargetLineOfTheSeedPost() throws {
        let e = try single(
            "kernel: IN= OUT=bond0 SRC=192.168.122.17 DST=10.44.32.217 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=62347 DF "
                + "PROTO=TCP SPT=42964 DPT=3128 WINDOW=29200 RES=0x00 SYN URGP=0")
        #expect(e.origin == .logTarget)
        #expect(e.kind == .log)
        #expect(e.prefix == "")
        #expect(e.table == "" && e.chain == "" && e.hook == nil && e.rule == nil)
        #expect(e.inIface == nil && e.outIface == "bond0")
        #expect(e.header?.ipID == 62347)
        #expect(e.header?.tcpSeq == nil)
        #expect(e.time == nil)
    }
}

// MARK: - Real public captures

@Suite struct KernelRealCaptureTests {
    @Test func dockerBridgeWithEbtablesAndPhysdev() throws {
        let r = parseLines(try Fixtures.text("real-captures/05-docker-bridge-c2c-ebtables-physdev.log"))
        #expect(r.skipped.isEmpty)
        #expect(r.events.count == 64)
        #expect(r.traces.count == 40)
        #expect(r.ebtables.count == 24)
        #expect(r.logs.isEmpty)

        // Line 1: an ebtables LOG line whose user prefix looks like a TRACE record.
        let eb = r.events[0]
        #expect(eb.origin == .ebtablesLog)
        #expect(eb.family == .bridge)
        #expect(eb.kind == .log)
        #expect(eb.prefix == "TRACE: eb:broute:BROUTING")
        // The prefix names the ebtables table and chain: a bridge step at broute's hook, no rule number.
        #expect(eb.table == "broute" && eb.chain == "BROUTING" && eb.hook == .brouting && eb.rule == nil)
        #expect(eb.inIface == "veth0594f4b" && eb.outIface == nil)
        let ebh = try #require(eb.header)
        #expect(ebh.macSrc == "02:42:c0:a8:00:02")
        #expect(ebh.macDst == "02:42:c0:a8:00:03")
        #expect(ebh.macProto == 0x0800)
        #expect(ebh.src == ip("192.168.0.2") && ebh.dst == ip("192.168.0.3"))
        #expect(ebh.tos == 0 && ebh.proto == IPProtocol.icmp)
        #expect(ebh.extra.isEmpty)
        #expect(r.ebtables.map(\.prefix).contains("TRACE: eb:nat:PREROUTING"))
        #expect(r.ebtables.allSatisfy { $0.family == .bridge && $0.prefix?.hasPrefix("TRACE: eb:") == true })

        // Line 6: br_netfilter FORWARD with both physical ports.
        let fwd = r.events[5]
        #expect(fwd.origin == .kernelTrace)
        #expect(fwd.table == "filter" && fwd.chain == "FORWARD" && fwd.kind == .rule && fwd.rule == .number(1))
        #expect(fwd.inIface == "docker0" && fwd.outIface == "docker0")
        #expect(fwd.physIn == "veth0594f4b" && fwd.physOut == "veth57a3dec")
        let h = try #require(fwd.header)
        #expect(h.ipID == 47066)
        #expect(h.icmpType == 8 && h.icmpCode == 0)
        #expect(h.icmpID == 90 && h.icmpSeq == 1)
        #expect(h.macDst == "02:42:c0:a8:00:03" && h.macSrc == "02:42:c0:a8:00:02")

        // Line 7: a user chain has no hook; `return:1` is DOCKER-USER's explicit RETURN.
        let user = r.events[6]
        #expect(user.chain == "DOCKER-USER" && user.kind == .return && user.rule == .number(1))
        #expect(user.hook == nil)
    }

    @Test func hostToContainerOutputCarriesUIDAndGID() throws {
        let r = parseLines(try Fixtures.text("real-captures/06-docker-host-to-container-output-uid.log"))
        #expect(r.skipped.isEmpty)
        #expect(r.events.count == 47)
        #expect(r.traces.count == 26)
        #expect(r.ebtables.count == 21)
        let out = r.events[0]
        #expect(out.table == "raw" && out.chain == "OUTPUT" && out.kind == .policy && out.rule == .number(2))
        #expect(out.hook == .output)
        #expect(out.inIface == nil && out.outIface == "docker0")
        let h = try #require(out.header)
        #expect(h.uid == 0 && h.gid == 0)
        #expect(h.ipID == 18692 && h.icmpID == 30245 && h.icmpSeq == 1)
        #expect(h.macSrc == nil)
        #expect(h.extra.isEmpty)
        // Replies coming in have no socket: no UID.
        let reply = try #require(r.traces.first { $0.chain == "PREROUTING" })
        #expect(reply.header?.uid == nil)
        #expect(reply.physIn == "veth0594f4b")
    }

    @Test func containerToExternalMasquerade() throws {
        let r = parseLines(try Fixtures.text("real-captures/07-docker-container-to-external-masquerade.log"))
        #expect(r.skipped.isEmpty)
        #expect(r.events.count == 74)
        #expect(r.traces.count == 56)
        #expect(r.ebtables.count == 18)
        let masq = r.events[13]
        #expect(masq.table == "nat" && masq.chain == "POSTROUTING" && masq.kind == .rule && masq.rule == .number(1))
        #expect(masq.inIface == nil && masq.outIface == "eth0" && masq.physIn == "veth0594f4b")
        #expect(masq.header?.src == ip("192.168.0.2"))
        // The reply before conntrack's de-NAT still shows the masqueraded address.
        let reply = r.events[14]
        #expect(reply.table == "raw" && reply.chain == "PREROUTING")
        #expect(reply.header?.dst == ip("10.171.77.0"))
        #expect(reply.header?.ttl == 57)
        #expect(reply.header?.ipID == 58706)
        #expect(reply.header?.macSrc == "00:2a:6a:aa:12:7c")
    }

    @Test func vxlanThroughSyslogWithKernelStamp() throws {
        let r = parseLines(try Fixtures.text("real-captures/08-vxlan-udp-local-out-and-in.log"))
        #expect(r.skipped.isEmpty)
        #expect(r.events.count == 14)
        #expect(r.traces.count == 14)
        #expect(r.events[0].time == 2895.050119)
        #expect(r.events[13].time == 2895.050675)
        let first = try #require(r.events[0].header)
        #expect(first.proto == IPProtocol.udp && first.sport == 40474 && first.dport == 4789)
        // The UDP length is not the IP length.
        #expect(first.length == 134)
        #expect(first.extra == ["LEN=114"])
        let docker = r.events[9]
        #expect(docker.table == "nat" && docker.chain == "DOCKER")
        #expect(docker.kind == .return && docker.rule == .number(3))
        #expect(docker.hook == nil)
        #expect(docker.time == 2895.050662)
    }
}

// MARK: - Hand-written lines, one per format

@Suite struct KernelFormatTests {
    static let tcpDump =
        "IN=virbr0 OUT= SRC=192.168.122.17 DST=10.44.32.217 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=14247 DF "
        + "PROTO=TCP SPT=42954 DPT=3128 SEQ=3127975600 ACK=0 WINDOW=29200 RES=0x00 SYN URGP=0 "

    @Test func dmesgWithPaddedStamp() throws {
        let e = try single("[ 5281.733217] TRACE: raw:PREROUTING:policy:2 " + Self.tcpDump)
        #expect(e.time == 5281.733217)
        #expect(e.table == "raw" && e.rule == .number(2))
    }

    @Test func dmesgHumanTimeHasNoKernelStamp() throws {
        let e = try single("[Tue Jun 18 21:00:55 2019] TRACE: filter:INPUT:rule:1 " + Self.tcpDump)
        #expect(e.time == nil)
        #expect(e.table == "filter" && e.chain == "INPUT" && e.hook == .input)
        #expect(e.header?.sport == 42954)
    }

    @Test func syslogWrappers() throws {
        let a = try single("Jul 20 11:28:40 ubuntu kernel: [ 7606.531051] TRACE: nat:OUTPUT:policy:2 " + Self.tcpDump)
        #expect(a.time == 7606.531051 && a.chain == "OUTPUT")
        let b = try single("Jan  1 21:23:16 cos74 kernel: TRACE: mangle:INPUT:policy:1 " + Self.tcpDump)
        #expect(b.time == nil && b.table == "mangle" && b.hook == .input)
        let c = try single("Dec 05 14:37:47 kernel: TRACE: security:FORWARD:rule:1 " + Self.tcpDump)
        #expect(c.table == "security" && c.chain == "FORWARD")
        let d = try single("2024-01-19T16:15:40.123456+0000 host kernel: TRACE: raw:OUTPUT:rule:4 " + Self.tcpDump)
        #expect(d.time == nil && d.kind == .rule && d.rule == .number(4))
        let e = try single("Jan 19 16:15:40.123456 host kernel: [ 12.5] TRACE: raw:OUTPUT:rule:5 " + Self.tcpDump)
        #expect(e.time == 12.5 && e.rule == .number(5))
    }

    @Test func devKmsgRecord() throws {
        let e = try single("4,1234,5121056357116,-;TRACE: raw:PREROUTING:policy:3 " + Self.tcpDump)
        #expect(e.time == 5_121_056.357116)
        #expect(e.header?.ttl == 64)
    }

    @Test func bareAndIndentedLines() throws {
        let a = try single("TRACE: raw:PREROUTING:policy:3 " + Self.tcpDump)
        #expect(a.time == nil && a.header?.tcpSeq == 3_127_975_600)
        // Pasted copies lose the trailing space, blogs add a leading one.
        let b = try single(" TRACE: raw:PREROUTING:policy:3 " + Self.tcpDump.dropLast())
        #expect(b.header?.tcpFlags == [.syn])
        #expect(b.header?.extra == [])
    }

    @Test func ipv6FullFormAndExtensionHeaders() throws {
        let e = try single(
            "[ 5281.733217] TRACE: raw:PREROUTING:policy:2 IN=eth0 OUT= "
                + "MAC=33:33:00:00:00:01:00:50:b6:4f:94:1f:86:dd SRC=fe80:0000:0000:0000:0250:b6ff:fe4f:941f "
                + "DST=ff02:0000:0000:0000:0000:0000:0000:0001 LEN=72 TC=0 HOPLIMIT=1 FLOWLBL=0 OPT ( ) "
                + "PROTO=ICMPv6 TYPE=130 CODE=0 ")
        #expect(e.family == .ipv6)
        let h = try #require(e.header)
        #expect(h.src?.description == "fe80::250:b6ff:fe4f:941f")
        #expect(h.dst?.description == "ff02::1")
        #expect(h.ttl == 1 && h.length == 72 && h.tos == 0)
        #expect(h.proto == IPProtocol.icmpv6 && h.icmpType == 130 && h.icmpCode == 0)
        #expect(h.macProto == 0x86DD)
        #expect(h.extra.isEmpty)

        let frag = try single(
            "TRACE: raw:PREROUTING:policy:1 IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 "
                + "DST=2001:0db8:0000:0000:0000:0000:0000:0002 LEN=1280 TC=0 HOPLIMIT=64 FLOWLBL=12345 "
                + "OPT ( FRAG:1232 INCOMPLETE ID:2d4055e5 ) PROTO=UDP ")
        let f = try #require(frag.header)
        #expect(f.fragment == 1232 && f.ipID == 0x2d40_55e5 && f.ipFlags.contains(.mf))
        #expect(f.proto == IPProtocol.udp && f.sport == nil)
        #expect(f.extra == ["FLOWLBL=12345"])

        let bare = try single(
            "IN=eth0 OUT= SRC=2001:0db8:0000:0000:0000:0000:0000:0001 DST=2001:0db8:0000:0000:0000:0000:0000:0002 "
                + "LEN=1280 TC=0 HOPLIMIT=64 FLOWLBL=0 FRAG:1232 ID:2d4055e5 PROTO=UDP ")
        #expect(bare.family == .ipv6 && bare.origin == .logTarget)
        #expect(bare.header?.fragment == 1232 && bare.header?.ipID == 0x2d40_55e5)
    }

    @Test func icmpErrorWithEmbeddedHeader() throws {
        let e = try single(
            "TRACE: filter:INPUT:rule:3 IN=eth0 OUT= MAC=00:0c:29:30:06:44:00:68:eb:c6:60:f2:08:00 SRC=10.0.0.1 "
                + "DST=10.0.0.2 LEN=576 TOS=0x00 PREC=0xC0 TTL=64 ID=1234 PROTO=ICMP TYPE=3 CODE=4 "
                + "[SRC=10.0.0.2 DST=8.8.8.8 LEN=1500 TOS=0x00 PREC=0x00 TTL=63 ID=4321 DF PROTO=TCP "
                + "INCOMPLETE [8 bytes] ] MTU=1400 ")
        let h = try #require(e.header)
        #expect(h.ipID == 1234 && h.tos == 0xC0 && h.ttl == 64 && h.length == 576)
        #expect(h.icmpType == 3 && h.icmpCode == 4)
        #expect(h.incompleteBytes == nil)
        #expect(h.ipFlags.isEmpty)
        let inner = try #require(h.embedded)
        #expect(inner.src == ip("10.0.0.2") && inner.dst == ip("8.8.8.8"))
        #expect(inner.length == 1500 && inner.ipID == 4321 && inner.proto == IPProtocol.tcp)
        #expect(h.extra == ["MTU=1400"])

        let udp = try single(
            "TRACE: filter:INPUT:rule:3 IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=576 TOS=0x00 PREC=0xC0 TTL=64 "
                + "ID=1235 PROTO=ICMP TYPE=3 CODE=3 [SRC=10.0.0.2 DST=8.8.8.8 LEN=68 TOS=0x00 PREC=0x00 TTL=63 "
                + "ID=4322 PROTO=UDP SPT=5353 DPT=53 LEN=48] ")
        let u = try #require(udp.header?.embedded)
        #expect(u.proto == IPProtocol.udp && u.sport == 5353 && u.dport == 53 && u.length == 68)
        #expect(udp.header?.sport == nil)
        #expect(udp.header?.extra == [])
    }

    @Test func logPrefixesAreKeptVerbatim() throws {
        let ufw = try single(
            "Jul 20 11:28:40 ubuntu kernel: [ 7606.531051] [UFW BLOCK] IN=eth0 OUT= "
                + "MAC=00:0c:29:30:06:44:00:68:eb:c6:60:f2:08:00 SRC=10.0.0.1 DST=10.0.0.2 LEN=40 TOS=0x00 "
                + "PREC=0x00 TTL=64 ID=2 PROTO=UDP SPT=5353 DPT=53 LEN=20 ")
        #expect(ufw.origin == .logTarget && ufw.kind == .log)
        #expect(ufw.prefix == "[UFW BLOCK] ")
        #expect(ufw.time == 7606.531051)
        #expect(ufw.header?.length == 40 && ufw.header?.extra == ["LEN=20"])

        let vyos = try single(
            "Dec 05 14:37:47 kernel: [bri-NAM-TEST-10-C]IN=eth1 OUT=eth2 "
                + "MAC=00:0c:29:30:06:44:00:68:eb:c6:60:f2:08:00 SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x00 "
                + "PREC=0x00 TTL=64 ID=4 PROTO=ICMP TYPE=0 CODE=0 ID=9 SEQ=2")
        #expect(vyos.prefix == "[bri-NAM-TEST-10-C]")
        #expect(vyos.inIface == "eth1" && vyos.outIface == "eth2")
        #expect(vyos.header?.ipID == 4 && vyos.header?.icmpID == 9)

        let nft = try single("test nftIN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=6 ")
        #expect(nft.prefix == "test nft")
        #expect(nft.table == "" && nft.chain == "" && nft.hook == nil)
    }

    @Test func twoRecordsMergedOnOneLine() throws {
        let r = parseLines(
            "[5121056.357116] TRACE: raw:PREROUTING:policy:3 " + Self.tcpDump
                + "[5121056.357126] TRACE: mangle:PREROUTING:policy:1 " + Self.tcpDump
                + "TRACE: nat:PREROUTING:policy:1 " + Self.tcpDump)
        #expect(r.skipped.isEmpty)
        #expect(r.events.map(\.table) == ["raw", "mangle", "nat"])
        #expect(r.events.map(\.time) == [5_121_056.357116, 5_121_056.357126, 5_121_056.357126])
        #expect(r.events.map { $0.header?.extra ?? ["none"] } == [[], [], []])
        #expect(r.events.map { $0.header?.tcpFlags.rawValue } == [0x002, 0x002, 0x002])
        #expect(r.events.map(\.source.line) == [1, 1, 1])
    }

    @Test func logLinesGluedTogether() throws {
        let r = parseLines(
            "[UFW BLOCK] IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=47 MTU=9 "
                + "[ 99.5] [UFW ALLOW] IN=eth1 OUT= SRC=9.9.9.9 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=2 "
                + "PROTO=47 [bri-X]IN=eth2 OUT=eth3 SRC=8.8.8.8 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=3 "
                + "PROTO=47 TRACE: filter:INPUT:rule:1 IN=eth4 OUT= SRC=7.7.7.7 DST=5.6.7.8 LEN=60")
        #expect(r.skipped.isEmpty)
        #expect(r.events.map(\.prefix) == ["[UFW BLOCK] ", "[UFW ALLOW] ", "[bri-X]", nil])
        #expect(r.events.map(\.inIface) == ["eth0", "eth1", "eth2", "eth4"])
        #expect(r.events.map(\.outIface) == [nil, nil, "eth3", nil])
        #expect(r.events.map { $0.header?.src } == ["1.2.3.4", "9.9.9.9", "8.8.8.8", "7.7.7.7"].map(ip))
        #expect(r.events.map(\.time) == [nil, 99.5, 99.5, 99.5])
        #expect(r.events.map { $0.header?.extra ?? [] } == [["MTU=9"], [], [], []])
    }

    @Test func stampBehindAnUnknownWrapper() throws {
        let e = try single(
            "kern  :warn  : [ 4711.000001] TRACE: raw:PREROUTING:policy:2 IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 ")
        #expect(e.time == 4711.000001 && e.table == "raw")
    }

    @Test func markIGMPAndIPOptions() throws {
        let mark = try single(
            "TRACE: mangle:FORWARD:rule:4 IN=eth0 OUT=eth1 SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 "
                + "TTL=63 ID=5 PROTO=ICMP TYPE=8 CODE=0 ID=9 SEQ=3 MARK=0x8000 ")
        #expect(mark.header?.mark == 0x8000)
        let igmp = try single(
            "IN=eth0 OUT= MAC=01:00:5e:00:00:01:00:0c:29:30:06:44:08:00 SRC=192.168.1.1 DST=224.0.0.1 LEN=32 "
                + "TOS=0x00 PREC=0xC0 TTL=1 ID=0 DF OPT (94040000) PROTO=2 ")
        #expect(igmp.header?.proto == IPProtocol.igmp)
        #expect(igmp.header?.extra == ["OPT (94040000)"])
        #expect(igmp.header?.ttl == 1)
    }

    @Test func emptyMACAndNewTCPFlags() throws {
        let e = try single(
            "IN=ppp0 OUT= MAC= SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=50 ID=7 DF PROTO=TCP SPT=1 "
                + "DPT=2 WINDOW=1 RES=0x00 AE CWR ECE SYN URGP=0 ")
        #expect(e.family == .ipv4)
        let h = try #require(e.header)
        #expect(h.macSrc == nil && h.macDst == nil && h.macProto == nil)
        #expect(h.tcpFlags == [.ae, .cwr, .ece, .syn])
        #expect(h.extra.isEmpty)
    }

    @Test func macDecodeVLANAndRangeChecks() throws {
        let e = try single(
            "IN=eth0 OUT= MACSRC=00:68:eb:c6:60:f2 MACDST=00:0c:29:30:06:44 VPROTO=8100 VID=10 MACPROTO=0800 "
                + "SRC=10.0.0.1 DST=10.0.0.2 LEN=84 TOS=0x00 PREC=0x00 TTL=300 ID=99999 PROTO=ICMP TYPE=8 CODE=0 "
                + "ID=1 SEQ=1 ")
        let h = try #require(e.header)
        #expect(h.macSrc == "00:68:eb:c6:60:f2" && h.macDst == "00:0c:29:30:06:44" && h.macProto == 0x0800)
        #expect(h.ttl == nil && h.ipID == nil)
        #expect(h.icmpID == 1)
        #expect(h.extra == ["VPROTO=8100", "VID=10", "TTL=300", "ID=99999"])
        let ports = try single(
            "IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=UDP SPT=70000 "
                + "DPT=53 LEN=40 ")
        #expect(ports.header?.sport == nil && ports.header?.dport == 53)
        #expect(ports.header?.extra == ["SPT=70000", "LEN=40"])
    }

    @Test func arpLines() throws {
        let e = try single(
            "IN=eth0 OUT= ARP HTYPE=1 PTYPE=0x0800 OPCODE=1 MACSRC=52:54:00:12:34:56 IPSRC=192.168.1.10 "
                + "MACDST=00:00:00:00:00:00 IPDST=192.168.1.1")
        #expect(e.family == .arp && e.origin == .logTarget)
        let h = try #require(e.header)
        #expect(h.src == ip("192.168.1.10") && h.dst == ip("192.168.1.1"))
        #expect(h.macSrc == "52:54:00:12:34:56")
        #expect(h.extra == ["HTYPE=1", "PTYPE=0x0800", "OPCODE=1"])
    }

    @Test func ebtablesLogVariants() throws {
        let v6 = try single(
            "log-ebt IN=eth0 OUT=eth1 MAC source = 02:42:c0:a8:00:02 MAC dest = 02:42:c0:a8:00:03 proto = 0x86dd "
                + "IPv6 SRC=fe80:0000:0000:0000:0250:b6ff:fe4f:941f IPv6 DST=fe80:0000:0000:0000:0250:b6ff:fe4f:9420, "
                + "IPv6 priority=0x0, Next Header=6 SPT=1 DPT=2")
        #expect(v6.origin == .ebtablesLog && v6.family == .bridge && v6.prefix == "log-ebt")
        #expect(v6.header?.src?.description == "fe80::250:b6ff:fe4f:941f")
        #expect(v6.header?.proto == IPProtocol.tcp && v6.header?.sport == 1 && v6.header?.dport == 2)
        #expect(v6.header?.macProto == 0x86DD)

        let tcp = try single(
            "log-ebt IN=eth0 OUT=eth1 MAC source = 02:42:c0:a8:00:02 MAC dest = 02:42:c0:a8:00:03 proto = 0x0800 "
                + "IP SRC=192.168.0.2 IP DST=192.168.0.3, IP tos=0x10, IP proto=6 SPT=40000 DPT=80")
        let h = try #require(tcp.header)
        #expect(h.dst == ip("192.168.0.3") && h.tos == 0x10 && h.proto == IPProtocol.tcp)
        #expect(h.sport == 40000 && h.dport == 80 && h.extra.isEmpty)

        let arp = try single(
            "log-ebt IN=eth0 OUT= MAC source = 02:42:c0:a8:00:02 MAC dest = ff:ff:ff:ff:ff:ff proto = 0x0806 "
                + "ARP HTYPE=1, PTYPE=0x0800, OPCODE=1 ARP MAC SRC=02:42:c0:a8:00:02 ARP IP SRC=192.168.0.2 "
                + "ARP MAC DST=00:00:00:00:00:00 ARP IP DST=192.168.0.1")
        #expect(arp.family == .bridge)
        #expect(arp.header?.src == ip("192.168.0.2") && arp.header?.dst == ip("192.168.0.1"))
        #expect(arp.header?.macDst == "ff:ff:ff:ff:ff:ff")
        #expect(
            arp.header?.extra == [
                "HTYPE=1", "PTYPE=0x0800", "OPCODE=1", "MAC SRC=02:42:c0:a8:00:02", "MAC DST=00:00:00:00:00:00",
            ])
    }

    @Test func truncatedAndIncompleteDumps() throws {
        let t = try single("TRACE: raw:PREROUTING:policy:2 IN=eth0 OUT= TRUNCATED")
        #expect(t.header?.extra == ["TRUNCATED"])
        let i = try single(
            "TRACE: raw:PREROUTING:policy:2 IN=eth0 OUT= SRC=1.2.3.4 DST=5.6.7.8 LEN=40 TOS=0x00 PREC=0x00 "
                + "TTL=64 ID=1 PROTO=TCP INCOMPLETE [12 bytes] ")
        #expect(i.header?.incompleteBytes == 12 && i.header?.sport == nil)
        let o = try single(
            "TRACE: raw:OUTPUT:rule:2 IN= OUT=eth0 SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 "
                + "PROTO=TCP SPT=1 DPT=2 SEQ=1 ACK=0 WINDOW=1 RES=0x00 SYN URGP=0 OPT (TRUNCATED) ")
        #expect(o.header?.extra == ["OPT (TRUNCATED)"])
        let esp = try single(
            "TRACE: raw:OUTPUT:rule:2 IN= OUT=eth0 SRC=1.2.3.4 DST=5.6.7.8 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 "
                + "PROTO=ESP SPI=0x1234 ")
        #expect(esp.header?.proto == IPProtocol.esp && esp.header?.extra == ["SPI=0x1234"])
        // A record cut right after its head still counts, without a header.
        let bare = try single("[5121056.357116] TRACE: raw:PREROUTING:policy:3 IN=virbr0 OUT=")
        #expect(bare.header == nil && bare.inIface == "virbr0" && bare.family == .ipv4)
        let cut = try single("TRACE: raw:PREROUTING:policy:3 IN=virbr0 OUT= MAC=52:54:00:da:ec:4f:52:54")
        #expect(cut.family == .ipv4 && cut.header?.extra == ["MAC=52:54:00:da:ec:4f:52:54"])
    }

    @Test func brokenTraceHeadsAreMalformed() {
        for line in [
            "TRACE: raw:PREROUTING:policy: IN=eth0 OUT= SRC=1.2.3.4",
            "TRACE: raw:PREROUTING:policy IN=eth0 OUT= SRC=1.2.3.4",
            "TRACE: raw:PREROUTING:policy:99999999999 IN=eth0 OUT= SRC=1.2.3.4",
            "TRACE: raw:PREROUTING:rule:1x IN=eth0 OUT=",
            "TRACE: raw::rule:1 IN=eth0 OUT=",
        ] {
            let r = parseLines(line)
            #expect(r.events.isEmpty, "\(line)")
            #expect(r.skipped.count == 1, "\(line)")
            #expect(r.skipped.first?.reason.hasPrefix("TRACE record") == true, "\(line)")
        }
    }

    @Test func otherLinesAreNotMine() {
        let r = parseLines(
            "some random text\nTRACE: eb:broute:BROUTING but no fields\nkernel: IN=eth0 without out\n"
                + "Jul 20 11:28:40 ubuntu kernel: audit: type=1400\n \n")
        #expect(r.events.isEmpty)
        #expect(r.skipped.count == 4)
        #expect(r.skipped.allSatisfy { $0.reason == "not a trace or log record" })
    }

    @Test func priorityPrefixAndPhysIn() throws {
        let e = try single(
            "<4>[ 12.5] TRACE: security:INPUT:rule:1 IN=eth0 OUT= PHYSIN=veth1 SRC=1.2.3.4 DST=5.6.7.8 LEN=60 "
                + "TOS=0x00 PREC=0x00 TTL=64 ID=1 PROTO=47 ")
        #expect(e.time == 12.5 && e.physIn == "veth1" && e.header?.proto == IPProtocol.gre)
    }
}

// MARK: - Robustness

@Suite struct KernelRobustnessTests {
    @Test func everyTruncationOfEverySeedLineParses() throws {
        var lines = try Fixtures.text("seed/001-libvirt-nat.dmesg").split(separator: "\n").map(String.init)
        lines += try Fixtures.text("real-captures/05-docker-bridge-c2c-ebtables-physdev.log")
            .split(separator: "\n").prefix(8).map(String.init)
        lines += try Fixtures.text("real-captures/08-vxlan-udp-local-out-and-in.log").split(separator: "\n").prefix(2)
            .map(String.init)
        var parser = TraceLineParser(file: "cut")
        var events = 0
        for line in lines {
            let bytes = Array(line.utf8)
            for cut in 0...bytes.count {
                _ = bytes[..<cut].withUnsafeBufferPointer { part in
                    parser.parse(line: part, lineNumber: cut, emit: { _ in events += 1 }, onSkip: { _ in })
                }
                // Also the tail: what a reader sees after a broken line break.
                _ = bytes[cut...].withUnsafeBufferPointer { part in
                    parser.parse(line: part, lineNumber: cut, emit: { _ in events += 1 }, onSkip: { _ in })
                }
            }
        }
        #expect(events > 0)
    }

    @Test func randomBytesNeverCrash() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }
        let alphabet = Array("TRACE: raw:PREROUTING:policy:12 IN=OUT=MAC=SRC=DST=LEN=[]()0x:.,-=ab \u{0}\u{FF}".utf8)
        let seed = Array(
            ("TRACE: raw:PREROUTING:policy:3 IN=eth0 OUT= MAC=00:0c:29:30:06:44:00:68:eb:c6:60:f2:08:00 "
                + "SRC=10.0.0.1 DST=10.0.0.2 LEN=576 TOS=0x00 PREC=0xC0 TTL=64 ID=1234 PROTO=ICMP TYPE=3 CODE=4 "
                + "[SRC=10.0.0.2 DST=8.8.8.8 LEN=1500 PROTO=TCP INCOMPLETE [8 bytes] ] MTU=1400 OPT ( FRAG:8 ) ").utf8)
        var parser = TraceLineParser(file: "fuzz")
        for round in 0..<3000 {
            var bytes = seed
            for _ in 0..<(1 + Int(next() % 8)) {
                let at = Int(next() % UInt64(bytes.count))
                switch next() % 3 {
                case 0: bytes[at] = alphabet[Int(next() % UInt64(alphabet.count))]
                case 1: bytes.remove(at: at)
                default: bytes.insert(alphabet[Int(next() % UInt64(alphabet.count))], at: at)
                }
            }
            _ = bytes.withUnsafeBufferPointer { line in
                parser.parse(line: line, lineNumber: round, emit: { _ in }, onSkip: { _ in })
            }
        }
    }
}

/// LOG prefixes that name an ebtables chain, the way people write them to trace bridged frames.
@Suite struct BridgeLogPrefixTests {
    @Test func prefixesNamingAChain() {
        let named = BridgeLogPrefix("TRACE: eb:nat:PREROUTING", knownBridge: true)
        #expect(named?.table == "nat" && named?.chain == "PREROUTING" && named?.hook == .prerouting)
        #expect(BridgeLogPrefix("ebt filter forward ", knownBridge: false)?.hook == .forward)
        #expect(BridgeLogPrefix("[br OUTPUT]", knownBridge: false)?.table == "")
        #expect(BridgeLogPrefix("BROUTING", knownBridge: false)?.table == "broute")
        // An IP LOG rule's prefix names a chain too, but nothing marks it as ebtables'.
        #expect(BridgeLogPrefix("TRACE: filter:INPUT", knownBridge: false) == nil)
        #expect(BridgeLogPrefix("[UFW BLOCK] ", knownBridge: true) == nil)
    }
}
