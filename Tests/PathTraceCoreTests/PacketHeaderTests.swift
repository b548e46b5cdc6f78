import Testing

@testable import PathTraceCore

/// Headers and events store optional fields as plain values plus presence bits, names as table ids
/// and rare fields in a shared box: every field must still read back what was set, nil must stay
/// distinct from zero, and `==` must see presence and boxed names.
@Suite struct PacketHeaderTests {
    /// Sets one field, checks it reads back and differs from an empty header, then clears it.
    func roundTrip<T: Equatable>(_ key: WritableKeyPath<PacketHeader, T?>, _ value: T, zero: T) {
        var h = PacketHeader()
        #expect(h[keyPath: key] == nil)
        h[keyPath: key] = value
        #expect(h[keyPath: key] == value)
        #expect(h != PacketHeader())
        h[keyPath: key] = zero
        #expect(h[keyPath: key] == zero)
        // Present zero is not absent.
        #expect(h != PacketHeader())
        h[keyPath: key] = nil
        #expect(h[keyPath: key] == nil)
        #expect(h == PacketHeader())
    }

    /// Two steps' headers are the same bytes only when every field is equal: the printers then copy the
    /// step before's header text, so a changed field (the TTL a routed packet lost, the last of them)
    /// must not pass.
    @Test func sameHeaderBytesSeesEveryField() {
        var h = PacketHeader()
        h.src = IPAddress("192.0.2.7")
        h.dst = IPAddress("198.51.100.1")
        h.sport = 40000
        h.dport = 53
        h.ttl = 64
        var e = TraceEvent(
            source: SourcePosition(file: "t", line: 1), origin: .kernelTrace, family: .ipv4, table: "filter",
            chain: "INPUT", kind: .rule)
        e.header = h
        var routed = h
        routed.ttl = 63
        var other = e
        other.header = routed
        let steps = [e, e, other].map { WalkStep(event: $0, hook: .input, verdict: nil, verdictInferred: false) }
        steps.withUnsafeBufferPointer { s in
            #expect(WalkStep.sameHeaderBytes(s.baseAddress!, s.baseAddress! + 1))
            #expect(!WalkStep.sameHeaderBytes(s.baseAddress!, s.baseAddress! + 2))
        }
    }

    @Test func everyOptionalHeaderFieldRoundTrips() {
        roundTrip(\.src, IPAddress("192.0.2.7")!, zero: IPAddress(v4: 0))
        roundTrip(\.dst, IPAddress("2001:db8::1")!, zero: IPAddress(v6: 0, 0))
        roundTrip(\.proto, 17, zero: 0)
        roundTrip(\.sport, 65535, zero: 0)
        roundTrip(\.dport, 53, zero: 0)
        roundTrip(\.ipID, 0xFFFF_FFFF, zero: 0)
        roundTrip(\.ttl, 64, zero: 0)
        roundTrip(\.length, 1500, zero: 0)
        roundTrip(\.tos, 0x10, zero: 0)
        roundTrip(\.fragment, 185, zero: 0)
        roundTrip(\.tcpSeq, 0xDEAD_BEEF, zero: 0)
        roundTrip(\.tcpAck, 1, zero: 0)
        roundTrip(\.window, 29200, zero: 0)
        roundTrip(\.icmpType, 3, zero: 0)
        roundTrip(\.icmpCode, 1, zero: 0)
        roundTrip(\.icmpID, 4242, zero: 0)
        roundTrip(\.icmpSeq, 7, zero: 0)
        roundTrip(\.mark, 0x8000_0000, zero: 0)
        roundTrip(\.uid, 1000, zero: 0)
        roundTrip(\.gid, 100, zero: 0)
        roundTrip(\.macProto, 0x0800, zero: 0)
        roundTrip(\.macSrc, "52:54:00:12:34:56", zero: "")
        roundTrip(\.macDst, "ff:ff:ff:ff:ff:ff", zero: "")
        roundTrip(\.incompleteBytes, 20, zero: 0)
        var inner = EmbeddedHeader()
        inner.src = IPAddress("10.0.0.1")
        inner.sport = 1234
        roundTrip(\.embedded, inner, zero: EmbeddedHeader())
    }

    @Test func addressesKeepTheirFamilyAndIsV6FollowsTheSource() {
        var h = PacketHeader()
        h.src = IPAddress("::ffff:10.0.0.1")
        h.dst = IPAddress("10.0.0.2")
        #expect(h.src?.isV6 == true && h.dst?.isV6 == false)
        #expect(h.src == IPAddress("::ffff:10.0.0.1") && h.dst == IPAddress("10.0.0.2"))
        #expect(h.isV6)
        h.src = nil
        #expect(!h.isV6)
        h.src = IPAddress("10.0.0.3")
        h.dst = IPAddress("2001:db8::2")
        #expect(!h.isV6)
    }

    @Test func extraAndFlagsCompareByValue() {
        var a = PacketHeader(), b = PacketHeader()
        a.extra = ["SYN", "URGP=0"]
        #expect(a != b)
        b.extra = ["SYN"]
        b.extra.append("URGP=0")
        #expect(a == b && b.extra == ["SYN", "URGP=0"])
        b.extra = []
        #expect(b == PacketHeader())
        a.tcpFlags = [.syn, .ack]
        a.ipFlags = .df
        #expect(a.tcpFlags == [.syn, .ack] && a.ipFlags == .df)
        // A copy shares nothing the original can change.
        let copy = a
        a.extra.append("MORE")
        #expect(copy.extra == ["SYN", "URGP=0"] && a.extra.count == 3)
    }

    /// The reply linker skips a header's items unless the box says one may be a conntrack one: the flag
    /// must follow every way `extra` changes (set, appended, emptied), also on a shared box's copy.
    @Test func conntrackFlagFollowsTheItems() {
        var h = PacketHeader()
        #expect(!h.rare.mayHoldConntrack)
        h.extra = ["SYN", "URGP=0"]
        #expect(!h.rare.mayHoldConntrack && h.conntrack == nil)
        let before = h
        h.extra.append("ct id 32")
        #expect(h.rare.mayHoldConntrack && h.conntrack?.id == 32)
        #expect(!before.rare.mayHoldConntrack)
        h.extra.removeLast()
        #expect(!h.rare.mayHoldConntrack)
        h.extra = ["ct state new"]
        #expect(h.rare.mayHoldConntrack)
        h.extra = []
        #expect(!h.rare.mayHoldConntrack && h == PacketHeader())
    }

    @Test func boxedNamesRoundTripAndCompareByBytes() {
        var a = PacketHeader(), b = PacketHeader()
        a.macSrcName = NameTests.boxed("aa:bb:cc:dd:ee:ff:past-the-table")
        b.macSrcName = NameTests.boxed("aa:bb:cc:dd:ee:ff:past-the-table")
        #expect(a.macSrc == "aa:bb:cc:dd:ee:ff:past-the-table")
        #expect(a == b)
        b.macSrcName = NameTests.boxed("another")
        #expect(a != b)
        b.macSrc = "aa:bb:cc:dd:ee:ff:past-the-table"
        // A table name and a boxed one are different names, as `Name.==` says.
        #expect(a != b)
        a.macSrc = nil
        b.macSrc = nil
        #expect(a == b && a == PacketHeader())
    }

    func event() -> TraceEvent {
        TraceEvent(
            source: SourcePosition(file: "trace.log", line: 12), origin: .kernelTrace, family: .ipv4,
            table: "nat", chain: "PREROUTING", kind: .rule)
    }

    @Test func everyOptionalEventFieldRoundTrips() {
        func check<T: Equatable>(_ key: WritableKeyPath<TraceEvent, T?>, _ value: T) {
            var e = event()
            #expect(e[keyPath: key] == nil)
            e[keyPath: key] = value
            #expect(e[keyPath: key] == value)
            #expect(e != event())
            e[keyPath: key] = nil
            #expect(e[keyPath: key] == nil)
            #expect(e == event())
        }
        check(\.time, 0)
        check(\.time, 5_121_056.357116)
        check(\.rule, .number(3))
        check(\.rule, .number(-1))
        check(\.rule, .handle(UInt64.max))
        check(\.ruleText, "-A PREROUTING -j DNAT --to-destination 10.0.0.2")
        check(\.verdict, .accept)
        check(\.verdict, .jump("KUBE-SERVICES"))
        check(\.verdict, .goto("x"))
        check(\.verdict, .other("weird"))
        check(\.inIface, "eth0")
        check(\.inIface, "")
        check(\.outIface, "eth1")
        check(\.physIn, "veth0")
        check(\.physOut, "veth1")
        check(\.traceID, 0)
        check(\.traceID, 0xFFFF_FFFF)
        check(\.prefix, "pt: ")
        check(\.tableFamily, "inet")
        check(\.netns, "ptns1")
        check(\.packetBytes, [0x45, 0])
        var h = PacketHeader()
        h.proto = 6
        check(\.header, h)
        check(\.header, PacketHeader())
    }

    @Test func eventNamesPositionAndFlagsRoundTrip() {
        var e = event()
        #expect(e.table == "nat" && e.chain == "PREROUTING" && e.hook == .prerouting)
        #expect(e.source == SourcePosition(file: "trace.log", line: 12))
        e.source.line = Int.max
        e.source = SourcePosition(fileName: NameTests.boxed("boxed.log"), line: e.source.line)
        #expect(e.source.file == "boxed.log" && e.source.line == Int.max)
        e.tableName = NameTests.boxed("boxed-table")
        e.chainName = NameTests.boxed("boxed-chain")
        e.inIfaceName = NameTests.boxed("boxed-if")
        e.verdict = .jump(NameTests.boxed("boxed-target"))
        #expect(e.table == "boxed-table" && e.chain == "boxed-chain" && e.inIface == "boxed-if")
        #expect(e.verdict == .jump(NameTests.boxed("boxed-target")))
        e.tableName = "nat"
        e.chainName = "PREROUTING"
        e.inIface = nil
        e.verdict = nil
        e.source = SourcePosition(file: "trace.log", line: 12)
        #expect(e == event())
        e.startsChain = true
        e.timeBasis = .received
        #expect(e.startsChain && e.timeBasis == .received && e != event())
        e.startsChain = false
        e.timeBasis = .kernel
        #expect(e == event())
    }

    @Test func aStepsVerdictIsItsOwnNotItsEvents() {
        var e = event()
        e.verdict = .other(NameTests.boxed("boxed-event-verdict"))
        let step = WalkStep(
            event: e, hook: .prerouting, verdict: .jump(NameTests.boxed("boxed-step-target")), verdictInferred: true)
        #expect(step.verdict == .jump(NameTests.boxed("boxed-step-target")))
        #expect(step.event.verdict == .other(NameTests.boxed("boxed-event-verdict")))
        #expect(step.event == e)
        // A step built from another step's event does not inherit that step's verdict.
        let next = WalkStep(event: step.event, hook: .prerouting, verdict: nil, verdictInferred: false)
        #expect(next.verdict == nil && next.event == e)
        #expect(step != next)
        var changed = step
        changed.verdict = .jump("KUBE-SERVICES")
        #expect(changed.verdict == .jump("KUBE-SERVICES") && changed != step && changed.event == e)
    }
}
