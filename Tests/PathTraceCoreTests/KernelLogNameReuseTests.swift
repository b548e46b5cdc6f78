import Foundation
import PathTraceCore
import Testing

/// The parser reuses what it read on earlier lines (TRACE heads, interface and MAC names): a line
/// whose bytes differ from the last one, even in one byte or only in length, must still read as itself.
@Suite struct KernelLogNameReuseTests {
    static func line(
        _ head: String, in inIface: String, out: String = "", mac: String = "52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00",
        src: String = "10.0.0.1"
    ) -> String {
        "[100.000001] TRACE: \(head) IN=\(inIface) OUT=\(out) MAC=\(mac) SRC=\(src) DST=10.0.0.2 LEN=60 "
            + "TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=1000 DPT=80 SEQ=1 ACK=0 WINDOW=100 RES=0x00 SYN URGP=0 "
    }

    @Test func interfacesThatChangeFromLineToLine() {
        let names = [
            "eth0", "eth1", "eth0", "eth0.100", "eth0.101", "veth1234567890ab", "veth1234567890ac", "e", "eth1",
        ]
        let text = names.map { KernelLogNameReuseTests.line("raw:PREROUTING:policy:3", in: $0, out: $0 + "x") }
        let result = parseLines(text.joined(separator: "\n"))
        #expect(result.skipped.isEmpty)
        #expect(result.events.map(\.inIface) == names)
        #expect(result.events.map(\.outIface) == names.map { $0 + "x" })
    }

    @Test func macsThatDifferInTheirLastByte() {
        let macs = [
            "52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00", "52:54:00:da:ec:4e:52:54:00:a4:5e:56:08:00",
            "52:54:00:da:ec:4e:52:54:00:a4:5e:57:08:00", "52:54:00:da:ec:4e:52:54:00:a4:5e:57:86:dd",
        ]
        let text = macs.map { KernelLogNameReuseTests.line("raw:PREROUTING:policy:3", in: "eth0", mac: $0) }
        let result = parseLines(text.joined(separator: "\n"))
        #expect(
            result.events.map { $0.header?.macDst } == [
                "52:54:00:da:ec:4f", "52:54:00:da:ec:4e", "52:54:00:da:ec:4e", "52:54:00:da:ec:4e",
            ])
        #expect(
            result.events.map { $0.header?.macSrc } == [
                "52:54:00:a4:5e:56", "52:54:00:a4:5e:56", "52:54:00:a4:5e:57", "52:54:00:a4:5e:57",
            ])
        #expect(result.events.map { $0.header?.macProto } == [0x0800, 0x0800, 0x0800, 0x86dd])
    }

    @Test func headsThatShareTheirStart() {
        let heads = [
            "filter:INPUT:rule:4", "filter:INPUT:rule:5", "filter:INPUT:rule:4", "filter:INPUT:policy:4",
            "filter:INPUTX:rule:4", "filter:FORWARD:rule:12", "filter:FORWARD:rule:1",
            "filter:a-very-long-user-chain-name:rule:2", "filter:a-very-long-user-chain-name:rule:3",
            "filter:a:b:c:return:1", "filter:a:b:c:return:1",
        ]
        let text = heads.map { KernelLogNameReuseTests.line($0, in: "eth0") }
        let result = parseLines(text.joined(separator: "\n"))
        #expect(result.skipped.isEmpty)
        #expect(
            result.events.map(\.chain) == [
                "INPUT", "INPUT", "INPUT", "INPUT", "INPUTX", "FORWARD", "FORWARD", "a-very-long-user-chain-name",
                "a-very-long-user-chain-name", "a:b:c", "a:b:c",
            ])
        #expect(result.events.map(\.rule) == [4, 5, 4, 4, 4, 12, 1, 2, 3, 1, 1].map { RuleRef.number($0) })
        #expect(
            result.events.map(\.kind) == [
                .rule, .rule, .rule, .policy, .rule, .rule, .rule, .rule, .rule, .return, .return,
            ])
        #expect(
            result.events.map(\.hook) == [.input, .input, .input, .input, nil, .forward, .forward, nil, nil, nil, nil])
    }

    /// Records glued on one line mix heads read before with heads never seen (one too long to be
    /// kept): each record still gets its own table, chain, rule and hook, and so do later lines.
    @Test func gluedRecordsWithHeadsSeenAndNew() {
        let dump =
            "IN=eth0 OUT= SRC=10.0.0.1 DST=10.0.0.2 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=1000 "
            + "DPT=80 SEQ=1 ACK=0 WINDOW=100 RES=0x00 SYN URGP=0 "
        let long = "filter:a-very-long-user-chain-name:rule:2 "
        let text = [
            "[100.000001] TRACE: raw:PREROUTING:policy:3 " + dump,
            "[100.000002] TRACE: raw:PREROUTING:policy:3 " + dump + "TRACE: " + long + dump
                + "TRACE: mangle:FORWARD:return:7 " + dump,
            "[100.000003] TRACE: mangle:FORWARD:return:7 " + dump,
            "[100.000004] TRACE: " + long + dump,
        ]
        let result = parseLines(text.joined(separator: "\n"))
        #expect(result.skipped.isEmpty)
        #expect(result.events.map(\.table) == ["raw", "raw", "filter", "mangle", "mangle", "filter"])
        let chain = "a-very-long-user-chain-name"
        #expect(result.events.map(\.chain) == ["PREROUTING", "PREROUTING", chain, "FORWARD", "FORWARD", chain])
        #expect(result.events.map(\.rule) == [3, 3, 2, 7, 7, 2].map { RuleRef.number($0) })
        #expect(result.events.map(\.kind) == [.policy, .policy, .rule, .return, .return, .rule])
        #expect(result.events.map(\.hook) == [.prerouting, .prerouting, nil, .forward, .forward, nil])
        #expect(result.events.map(\.time) == [100.000001, 100.000002, 100.000002, 100.000002, 100.000003, 100.000004])
        #expect(result.events.allSatisfy { $0.header?.dport == 80 && $0.inIface == "eth0" })
    }

    /// A routed packet's dumps repeat its body (`SRC=` on) under another prefix, its TTL lowered; a
    /// body the parser read before must still give each line its own TTL, interfaces and MAC.
    @Test func bodiesThatDifferOnlyInTheirPrefixOrTTL() {
        let mac = "MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 "
        func body(_ ttl: String) -> String {
            "SRC=10.0.0.1 DST=10.0.9.2 LEN=60 TOS=0x00 PREC=0x00 TTL=\(ttl) ID=7 DF PROTO=TCP SPT=1000 DPT=80 "
                + "SEQ=1 ACK=0 WINDOW=100 RES=0x00 SYN URGP=0 OPT (020405B40402080A10B629170000000001030307) "
        }
        let ttls = ["64", "63", "63", "6", "100", "064", "256", "63"]
        let prefixes = [
            "IN=eth0 OUT= " + mac, "IN=eth0 OUT=eth1 " + mac, "IN= OUT=eth1 ", "IN=eth0 OUT= " + mac,
            "IN=eth0 OUT= " + mac, "IN=eth0 OUT= " + mac, "IN=eth0 OUT= " + mac, "IN=eth2 OUT= ",
        ]
        let lines = zip(prefixes, ttls).map { "[100.000001] TRACE: raw:PREROUTING:policy:3 " + $0 + body($1) }
        let together = parseLines(lines.joined(separator: "\n")).events
        // Each line read by a parser that has seen nothing before it.
        let alone = lines.map { parseLines($0).events }
        #expect(alone.map(\.count) == Array(repeating: 1, count: lines.count))
        #expect(together.map(\.header) == alone.map { $0.first?.header })
        #expect(together.prefix(6).map { $0.header?.ttl } == [64, 63, 63, 6, 100, 64])
        #expect(together.last?.header?.ttl == 63)
        #expect(together.map(\.outIface) == [nil, "eth1", "eth1", nil, nil, nil, nil, nil])
        #expect(together.map(\.inIface) == ["eth0", "eth0", nil, "eth0", "eth0", "eth0", "eth0", "eth2"])
        let ours: String? = "52:54:00:a4:5e:56"
        #expect(together.map { $0.header?.macSrc } == [ours, ours, nil, ours, ours, ours, ours, nil])
        #expect(together.map { $0.header?.macProto } == [0x0800, 0x0800, nil, 0x0800, 0x0800, 0x0800, 0x0800, nil])
        #expect(together.allSatisfy { $0.header?.dport == 80 && $0.header?.tcpFlags == [.syn] })
    }

    @Test func aBrokenHeadAfterAGoodOneWithTheSameStart() {
        let text = [
            KernelLogNameReuseTests.line("raw:PREROUTING:policy:3", in: "eth0"),
            KernelLogNameReuseTests.line("raw:PREROUTING:policy:", in: "eth0"),
            KernelLogNameReuseTests.line("raw:PREROUTING:policy:3", in: "eth0"),
        ]
        let result = parseLines(text.joined(separator: "\n"))
        #expect(result.events.count == 2)
        #expect(result.skipped.map(\.reason) == ["TRACE record without a rule number"])
    }

    @Test func addressesAndNumbersThatAreNotTheKernelsUsualForm() throws {
        // A short TOS, an IPv6 source and a number too large for its field take the general reader.
        let text = [
            KernelLogNameReuseTests.line("raw:PREROUTING:policy:3", in: "eth0")
                .replacingOccurrences(of: "TOS=0x00", with: "TOS=0x8"),
            KernelLogNameReuseTests.line("raw:PREROUTING:policy:3", in: "eth0", src: "10.0.0.256"),
            KernelLogNameReuseTests.line("raw:PREROUTING:policy:3", in: "eth0")
                .replacingOccurrences(of: "SPT=1000", with: "SPT=70000"),
        ]
        let result = parseLines(text.joined(separator: "\n"))
        #expect(result.events.count == 3)
        #expect(result.events[0].header?.tos == 8)
        #expect(result.events[0].header?.ttl == 64)
        #expect(result.events[1].header?.src == nil)
        #expect(result.events[1].header?.dst == ip("10.0.0.2"))
        #expect(result.events[2].header?.sport == nil)
        #expect(result.events[2].header?.extra == ["SPT=70000"])
        #expect(result.events[2].header?.dport == 80)
    }

    @Test func oneDumpUnderSeveralHeadsAndAfterAGluedRecord() throws {
        let dump =
            "IN=eth0 OUT= MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 SRC=10.0.0.1 DST=10.0.0.2 LEN=60 "
            + "TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=1000 DPT=80 SEQ=1 ACK=0 WINDOW=100 RES=0x00 SYN URGP=0 "
        let text = [
            "[1.000001] TRACE: raw:PREROUTING:policy:3 " + dump,
            "[1.000002] TRACE: mangle:PREROUTING:policy:1 " + dump + "[1.000003] TRACE: nat:PREROUTING:policy:1 "
                + dump,
            "[1.000004] TRACE: filter:INPUT:rule:2 " + dump.replacingOccurrences(of: "SPT=1000", with: "SPT=1001"),
            "[1.000005] TRACE: filter:INPUT:policy:3 " + dump,
        ]
        let result = parseLines(text.joined(separator: "\n"))
        #expect(result.skipped.isEmpty)
        #expect(result.events.map(\.table) == ["raw", "mangle", "nat", "filter", "filter"])
        #expect(result.events.map(\.time) == [1.000001, 1.000002, 1.000003, 1.000004, 1.000005])
        #expect(result.events.map(\.source.line) == [1, 2, 2, 3, 4])
        #expect(result.events.map { $0.header?.sport } == [1000, 1000, 1000, 1001, 1000])
        #expect(result.events.map(\.inIface) == ["eth0", "eth0", "eth0", "eth0", "eth0"])
        #expect(result.events.allSatisfy { $0.header?.tcpFlags == [.syn] && $0.header?.dst == ip("10.0.0.2") })
    }

    /// Each line read alone, by a parser that has seen nothing: what the cached read must give too.
    static func fresh(_ line: String, at number: Int) throws -> TraceEvent {
        var event = try #require(parseLines(line).events.first)
        event.source = SourcePosition(file: "test.log", line: number)
        return event
    }

    @Test func dumpsSeenBeforeReadAsTheyDidTheFirstTime() throws {
        // More distinct dumps than the dump cache holds, each seen again after others pushed it out
        // (or not), some with an OPT tail (kept in the header's box): every event must equal the
        // one a parser that never saw the dump reads.
        let lengths = ["1", "60", "1500", "65535", "1234567", "12345678", "4294967295", "4294967296"]
        var dumps: [String] = []
        for k in 0..<300 {
            var dump =
                "IN=eth\(k % 3) OUT= MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 SRC=10.0.\(k % 7).1 "
                + "DST=10.0.0.2 LEN=\(lengths[k % lengths.count]) TOS=0x00 PREC=0x00 TTL=64 ID=\(k * 37) DF "
                + "PROTO=TCP SPT=\(1000 + k) DPT=80 SEQ=\(3_000_000_000 + k) ACK=\(k % 2) WINDOW=29200 RES=0x00 "
            dump += k % 4 == 0 ? "SYN URGP=0 OPT (020405B40402080A\(k)) " : "ACK URGP=0 "
            dumps.append(dump)
        }
        let heads = ["raw:PREROUTING:policy:3", "mangle:PREROUTING:policy:1", "filter:INPUT:rule:2"]
        var lines: [String] = []
        for round in 0..<3 {
            for (k, dump) in dumps.enumerated() {
                let index = round == 1 ? (k * 7) % dumps.count : k
                lines.append("[1.\(100_000 + lines.count)] TRACE: \(heads[round]) \(dumps[index])")
                if k % 5 == 0 { lines.append("[1.\(100_000 + lines.count)] TRACE: \(heads[round]) \(dump)") }
            }
        }
        let result = parseLines(lines.joined(separator: "\n"))
        #expect(result.skipped.isEmpty)
        try #require(result.events.count == lines.count)
        for (k, line) in lines.enumerated() {
            #expect(result.events[k] == (try KernelLogNameReuseTests.fresh(line, at: k + 1)), "line \(k + 1)")
        }
        #expect(result.events.contains { $0.header?.length == 4_294_967_295 })
        #expect(result.events.contains { $0.header?.extra.contains("LEN=4294967296") == true })
    }

    @Test func numbersAtTheEdgesOfTheirFields() throws {
        // The fast path's numbers stop where the kernel's number stops: at a space, at the end of the
        // line, within the field's range; anything else is an extra token, cached or not.
        let base = KernelLogNameReuseTests.line("raw:PREROUTING:policy:3", in: "eth0")
        let cases: [(String, String)] = [
            ("SPT=1000", "SPT=65535"), ("SPT=1000", "SPT=65536"), ("SPT=1000", "SPT=1000x"),
            ("SPT=1000", "SPT=0080"), ("LEN=60", "LEN=1234567"), ("WINDOW=100", "WINDOW=12"),
            ("SPT=1000", "SPT=123456"), ("DPT=80", "DPT=443"),
        ]
        let text =
            cases.map { base.replacingOccurrences(of: $0.0, with: $0.1) }
            + [base.replacingOccurrences(of: " RES=0x00 SYN URGP=0 ", with: "")]
        let result = parseLines(text.joined(separator: "\n"))
        #expect(result.skipped.isEmpty)
        try #require(result.events.count == text.count)
        #expect(result.events.map { $0.header?.sport } == [65535, nil, nil, 80, 1000, 1000, nil, 1000, 1000])
        #expect(result.events[1].header?.extra == ["SPT=65536"])
        #expect(result.events[2].header?.extra == ["SPT=1000x"])
        #expect(result.events[4].header?.length == 1_234_567)
        #expect(result.events[5].header?.window == 12)
        #expect(result.events[6].header?.extra == ["SPT=123456"])
        #expect(result.events[7].header?.dport == 443)
        #expect(result.events[8].header?.window == 100)
        #expect(result.events[8].header?.tcpFlags == [])
        for (k, line) in text.enumerated() {
            #expect(result.events[k] == (try KernelLogNameReuseTests.fresh(line, at: k + 1)))
        }
    }

    @Test func tailsAndPrefixesSeenBeforeUnderAnotherIPPart() throws {
        // One packet at later hooks: its IP part changes (TTL after routing, an address after NAT)
        // while the text before `SRC=` and the text from `PROTO=` on repeat, and those are read once.
        // Every event must equal the one a parser that never saw them reads, also when what follows
        // or replaces a reused part is something the fast path does not take (a second `OUT=`, a
        // field after the MAC, an unknown tail field, a cut `OPT (`).
        let prefixes = [
            "IN=bond0 OUT= MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 ",
            "IN=bond0 OUT=eth1 MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 ",
            "IN=br0 OUT=br0 PHYSIN=veth1 PHYSOUT=veth2 MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 ",
            "IN= OUT=eth0 ",
            "IN=bond0 OUT= MAC=52:54:00:da:ec:4f ",
            "IN=bond0 OUT= MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00 UID=0 ",
        ]
        let middles = [
            "SRC=10.44.172.27 DST=10.44.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=4 DF ",
            "SRC=10.44.172.27 DST=10.44.0.9 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=4 DF ",
            "SRC=10.44.172.27 DST=10.44.0.9 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=4 DF OUT=eth7 ",
        ]
        let tcp = "PROTO=TCP SPT=23322 DPT=3128 SEQ=1193448329 ACK=0 WINDOW=29200 RES=0x00 SYN URGP=0 "
        let tails = [
            tcp + "OPT (020405B40402080A10B629170000000001030307) ",
            tcp + "OPT (020405B40402080A10B629170000000001030308) ",
            "PROTO=TCP SPT=23323 DPT=3128 SEQ=1193448329 ACK=0 WINDOW=29200 RES=0x00 ACK PSH URGP=0 ",
            "PROTO=UDP SPT=53 DPT=5353 LEN=40 ",
            "PROTO=ICMP TYPE=8 CODE=0 ID=77 SEQ=3 ",
            tcp + "MARK=0x1 ",
            tcp + "OPT (",
            "PROTO=47 ",
        ]
        var lines: [String] = []
        for _ in 0..<2 {
            for prefix in prefixes {
                for middle in middles {
                    for tail in tails {
                        lines.append(
                            "[1.\(100_000 + lines.count)] TRACE: raw:PREROUTING:policy:3 \(prefix)\(middle)\(tail)")
                    }
                }
            }
        }
        let result = parseLines(lines.joined(separator: "\n"))
        #expect(result.skipped.isEmpty)
        try #require(result.events.count == lines.count)
        for (k, line) in lines.enumerated() {
            #expect(result.events[k] == (try KernelLogNameReuseTests.fresh(line, at: k + 1)), "line \(k + 1)")
        }
        let last = result.events.suffix(lines.count / 2)
        #expect(last.contains { $0.header?.icmpID == 77 && $0.header?.icmpSeq == 3 })
        #expect(last.contains { $0.header?.extra == ["OPT (020405B40402080A10B629170000000001030308)"] })
        #expect(last.contains { $0.outIface == "eth7" && $0.inIface == "bond0" && $0.header?.ttl == 63 })
        #expect(
            last.contains { $0.physIn == "veth1" && $0.header?.sport == 23323 && $0.header?.tcpFlags == [.ack, .psh] })
    }
}
