import Foundation
import PathTraceCore
import TestSupport
import Testing

/// Trace output as man pages, blog posts and tickets show it: numbered (`cat -n`, `nl`, the
/// xtables-monitor(8) example), indented, with CRLF line ends. Each copy is made here from a real
/// capture and must give exactly the walks of the capture itself.
@Suite struct PastedTextTests {
    /// The captures made in namespaces, one of each format the replay parser detects.
    static let captures = [
        "captures/bridge.dmesg", "captures/dnat-portmap.dmesg", "captures/drop.dmesg", "captures/interleaved.dmesg",
        "captures/ipv6.dmesg", "captures/libvirt-nat.dmesg", "captures/log-rules.dmesg", "captures/output.dmesg",
        "captures/libvirt-nat.kmsg", "captures/log-rules.dmesg-T", "captures/xtables-monitor-forward.txt",
        "captures/nft-monitor-forward.txt", "captures/journey-libvirt-nat.events.jsonl", "seed/001-libvirt-nat.dmesg",
    ]

    /// How a copy changes each line (`number` counts from 1).
    enum Copy: String, CaseIterable {
        /// `cat -n`: every line, `%6d` and a TAB.
        case catN
        /// `nl`: non-blank lines numbered `%6d` and a TAB, blank lines seven spaces.
        case nl
        /// Indented by spaces and tabs, differently on consecutive lines.
        case indented
        /// CRLF line ends.
        case crlf
        /// A man page's numbering: ` 1 ` before the record.
        case manPage

        func line(_ text: Substring, _ number: Int) -> String {
            switch self {
            case .catN: return Self.rightAligned(number) + "\t" + text
            case .nl: return text.isEmpty ? "       " : Self.rightAligned(number) + "\t" + text
            case .indented: return ["    ", "\t", " \t ", "\t\t"][number % 4] + text
            case .crlf: return text + "\r"
            case .manPage: return " \(number) " + text
            }
        }

        static func rightAligned(_ n: Int) -> String {
            let digits = String(n)
            return String(repeating: " ", count: max(0, 6 - digits.count)) + digits
        }

        func apply(_ text: String) -> String {
            var lines = text.split(separator: "\n", omittingEmptySubsequences: false)
            if lines.last?.isEmpty == true { lines.removeLast() }
            var out = ""
            var numbered = 0
            for line in lines {
                if self != .nl || !line.isEmpty { numbered += 1 }
                out += self.line(line, numbered) + "\n"
            }
            return out
        }
    }

    static func replay(_ file: String, _ copy: Copy?) throws -> ReplayResult {
        let text = try Fixtures.text(file)
        let bytes = Array((copy?.apply(text) ?? text).utf8)
        return try ReplayHarness.run(sources: [MemorySource(name: file, bytes: bytes)])
    }

    @Test(arguments: Copy.allCases)
    func copiesGiveTheSameWalks(_ copy: Copy) throws {
        for file in Self.captures {
            let original = try Self.replay(file, nil)
            let pasted = try Self.replay(file, copy)
            #expect(!original.walks.isEmpty, "\(file)")
            #expect(pasted.walks.map(\.chainSequence) == original.walks.map(\.chainSequence), "\(file) \(copy)")
            #expect(pasted.walks.map(\.path) == original.walks.map(\.path), "\(file) \(copy)")
            #expect(pasted.walks.map(\.verdict) == original.walks.map(\.verdict), "\(file) \(copy)")
            #expect(pasted.walks.map(\.nat) == original.walks.map(\.nat), "\(file) \(copy)")
            // Everything else too: times, headers, rule texts, LOG prefixes, notes and source lines.
            #expect(pasted.walks == original.walks, "\(file) \(copy)")
            #expect(pasted.skipped == original.skipped, "\(file) \(copy)")
        }
    }

    /// xtables-monitor(8), EXAMPLE OUTPUT (iptables 1.8.9, /usr/share/man/man8/xtables-monitor.8.gz),
    /// with its line numbers: the TRACE line before the PACKET line, as iptables < 1.8.7 printed it.
    static let manPageExample = """
         1 TRACE: 2 fc475095 raw:PREROUTING:rule:0x3:CONTINUE -4 -t raw -A PREROUTING -p icmp -j TRACE
         2 PACKET: 0 fc475095 IN=lo LL=0x304 0000000000000000000000000800 SRC=127.0.0.1 DST=127.0.0.1 LEN=84 TOS=0x0 TTL=64 ID=38349DF
         3 TRACE: 2 fc475095 raw:PREROUTING:return:
         4 TRACE: 2 fc475095 raw:PREROUTING:policy:ACCEPT
         5 TRACE: 2 fc475095 filter:INPUT:return:
         6 TRACE: 2 fc475095 filter:INPUT:policy:DROP
         7 TRACE: 2 0df9d3d8 raw:PREROUTING:rule:0x3:CONTINUE -4 -t raw -A PREROUTING -p icmp -j TRACE
        """

    @Test func xtablesMonitorManPageExampleParses() throws {
        let r = try ReplayHarness.run(sources: [MemorySource(name: "xtables-monitor.8", text: Self.manPageExample)])
        #expect(r.skipped.isEmpty)
        #expect(r.stats.events == 6)
        let first = try #require(r.walks.first)
        #expect(
            first.chainSequence == [
                "raw:PREROUTING:rule:#3", "raw:PREROUTING:return:", "raw:PREROUTING:policy:",
                "filter:INPUT:return:", "filter:INPUT:policy:",
            ])
        #expect(first.path == .input)
        #expect(first.verdict == .drop)
        #expect(first.lines == [1, 3, 4, 5, 6])
        let h = try #require(first.firstHeader)
        #expect(h.src == IPAddress("127.0.0.1") && h.dst == IPAddress("127.0.0.1"))
        #expect(h.ipID == 38349 && h.ipFlags == .df && h.ttl == 64)
        // xtables-monitor prints no protocol for ICMP: the TRACE rule's `-p icmp` tells it.
        #expect(h.proto == IPProtocol.icmp)
        #expect(r.walks.count == 2)
        #expect(r.walks.last?.steps.first?.event.traceID == 0x0df9_d3d8)
    }

    @Test func linesThatOnlyLookLikeRecordsAreSkipped() throws {
        // A real record, numbered, among lines of a ticket that only look like records.
        let record = try #require(try Fixtures.text("captures/drop.dmesg").split(separator: "\n").first)
        let text = [
            "     1\t" + record,
            "     2",
            "42",
            " 3 The TRACE: target is valid in the raw table only.",
            "4 TRACE: lines go to the kernel log, see TRACE: 2 of the manual.",
            "12345678901 TRACE: 2 fc475095 raw:PREROUTING:policy:ACCEPT",
        ].joined(separator: "\n")
        let r = try ReplayHarness.run(sources: [MemorySource(name: "ticket", text: text)])
        #expect(r.stats.events == 1)
        #expect(r.skipped.map(\.source.line) == [2, 3, 4, 5, 6])
        #expect(
            r.skipped.map(\.reason) == [
                "a line number without a record", "a line number without a record", "not a trace or log record",
                "not a trace or log record", "not a trace or log record",
            ])
        var report = SkipReport()
        for s in r.skipped { report.add(s) }
        #expect(
            report.summaryLines() == [
                "2 × a line number without a record (first: ticket:2, ticket:3)",
                "3 × not a trace or log record (first: ticket:4, ticket:5, ticket:6)",
            ])
    }

    @Test func pastedLogLineKeepsItsPrefixAndTime() throws {
        // A LOG-target line from a capture, numbered: the number is no part of the user's prefix.
        let line = try #require(try Fixtures.text("captures/log-rules.dmesg").split(separator: "\n").first)
        let original = MonitorParsing.parse(String(line)).events
        let numbered = MonitorParsing.parse("    17\t" + line + "\r").events
        #expect(!original.isEmpty)
        #expect(numbered.map(\.prefix) == original.map(\.prefix))
        #expect(numbered.map(\.time) == original.map(\.time))
        #expect(numbered.map(\.header) == original.map(\.header))
    }

    @Test func protocolFromTheRuleWhenTheSourceLeavesItOut() throws {
        // xtables-monitor-forward.txt: the ICMP echo (lines 76–89) and the UDP packet dropped at
        // FORWARD have no PROTO in their PACKET lines; their rules say `-p icmp` and `-p udp`.
        let r = try ReplayHarness.run(["captures/xtables-monitor-forward.txt"])
        let icmp = try #require(r.walks.first { $0.steps.first?.event.traceID == 0x15e7_dc1a })
        #expect(icmp.firstHeader?.proto == IPProtocol.icmp)
        #expect(icmp.steps.allSatisfy { $0.event.header?.proto == IPProtocol.icmp })
        let udp = try #require(r.walks.first { $0.steps.first?.event.traceID == 0x4a99_db51 })
        #expect(udp.firstHeader?.proto == IPProtocol.udp)
        let v6 = try #require(r.walks.first { $0.family == .ipv6 })
        #expect(v6.firstHeader?.proto == IPProtocol.icmpv6)
    }

    @Test func protocolMatchReadsOnlyAPlainDashP() {
        let cases: [(String, UInt8?)] = [
            ("-4 -t raw -A PREROUTING -p icmp -m icmp --icmp-type 8 -j TRACE", IPProtocol.icmp),
            ("-6 -t filter -A FORWARD -p ipv6-icmp -j ACCEPT", IPProtocol.icmpv6),
            ("-A FORWARD --protocol 47 -j ACCEPT", 47),
            ("-A FORWARD ! -p tcp -j DROP", nil),
            ("-A FORWARD -p ! tcp -j DROP", nil),
            ("-A FORWARD -p all -j ACCEPT", nil),
            ("-A X -m comment --comment \"was -p tcp\" -j ACCEPT", nil),
            ("-A X -m comment --comment \"old\" -p udp -j ACCEPT", IPProtocol.udp),
            ("-A POSTROUTING -o r1 -j MASQUERADE", nil),
        ]
        for (text, expected) in cases {
            #expect(IPProtocol.match(inRule: text) == expected, "\(text)")
        }
    }
}
