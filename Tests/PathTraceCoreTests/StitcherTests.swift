import PathTraceCore
import Testing

/// Pure-logic tests of the stitcher on hand-built events; the same paths run end to end over real
/// captures in ReplayCaptureTests.
@Suite struct StitcherTests {
    static func event(
        _ spec: String, line: Int, src: String = "192.168.122.17", dst: String = "10.44.32.217", sport: UInt16 = 42954,
        dport: UInt16 = 3128, ttl: UInt8 = 64, id: UInt32 = 14247, inIf: String? = "virbr0", outIf: String? = nil,
        time: Double? = nil
    ) -> TraceEvent {
        let parts = spec.split(separator: ":").map(String.init)
        var e = TraceEvent(
            source: SourcePosition(file: "t", line: line), origin: .kernelTrace, family: .ipv4, table: parts[0],
            chain: parts[1], kind: StepKind(rawValue: parts[2]) ?? .rule)
        e.rule = .number(Int(parts[3]) ?? 0)
        e.inIface = inIf
        e.outIface = outIf
        e.time = time
        var h = PacketHeader()
        h.src = IPAddress(src)
        h.dst = IPAddress(dst)
        h.proto = IPProtocol.tcp
        h.sport = sport
        h.dport = dport
        h.ttl = ttl
        h.ipID = id
        h.length = 60
        h.tcpSeq = 1000
        e.header = h
        return e
    }

    static func walks(_ events: [TraceEvent], options: Correlator.Options = Correlator.Options()) -> [PacketWalk] {
        var out: [PacketWalk] = []
        var c = Correlator(options: options) { out.append($0) }
        for e in events { c.add(e) }
        c.finish()
        return out
    }

    static func forward(id: UInt32, base: Int) -> [TraceEvent] {
        [
            event("raw:PREROUTING:policy:3", line: base, id: id),
            event("mangle:FORWARD:policy:1", line: base + 1, ttl: 63, id: id, outIf: "bond0"),
            event("filter:FORWARD:rule:2", line: base + 2, ttl: 63, id: id, outIf: "bond0"),
            event("mangle:POSTROUTING:policy:1", line: base + 3, ttl: 63, id: id, inIf: nil, outIf: "bond0"),
            event("nat:POSTROUTING:rule:3", line: base + 4, ttl: 63, id: id, inIf: nil, outIf: "bond0"),
        ]
    }

    @Test func interleavedPacketsAreSeparated() {
        let a = Self.forward(id: 1, base: 1)
        let b = Self.forward(id: 2, base: 10)
        let mixed = [a[0], b[0], b[1], a[1], a[2], b[2], b[3], a[3], b[4], a[4]]
        let walks = Self.walks(mixed)
        #expect(walks.count == 2)
        #expect(walks[0].steps.map(\.event.source.line) == [1, 2, 3, 4, 5])
        #expect(walks[1].steps.map(\.event.source.line) == [10, 11, 12, 13, 14])
        #expect(walks.allSatisfy { $0.path == .forward && $0.verdict == .accept && $0.confidence == 1 })
    }

    @Test func retransmissionWithEqualHeadersStartsANewWalk() {
        let walks = Self.walks(Self.forward(id: 5, base: 1) + Self.forward(id: 5, base: 10))
        #expect(walks.count == 2)
        #expect(walks.map(\.steps.count) == [5, 5])
    }

    @Test func equalHeadersInterleavedAreAGuessWithConfidence() {
        let a = Self.forward(id: 0, base: 1)
        let b = Self.forward(id: 0, base: 10)
        let walks = Self.walks([a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3], a[4], b[4]])
        #expect(walks.count == 2)
        #expect(walks.allSatisfy { $0.steps.count == 5 })
        #expect(walks.contains { $0.confidence < 1 })
        #expect(walks.contains { w in w.notes.contains { $0.contains("equal walks") } })
    }

    @Test func ttlMustDropByOneWhenForwarded() {
        var events = Self.forward(id: 7, base: 1)
        events[1] = Self.event("mangle:FORWARD:policy:1", line: 2, ttl: 64, id: 7, outIf: "bond0")
        let walks = Self.walks(events)
        #expect(walks.count > 1)
    }

    @Test func userChainJumpAndReturn() {
        let events = [
            Self.event("raw:PREROUTING:policy:2", line: 1),
            Self.event("filter:FORWARD:rule:1", line: 2, ttl: 63, outIf: "docker0"),
            Self.event("filter:DOCKER-USER:return:1", line: 3, ttl: 63, outIf: "docker0"),
            Self.event("filter:FORWARD:rule:2", line: 4, ttl: 63, outIf: "docker0"),
            Self.event("filter:DOCKER:rule:1", line: 5, ttl: 63, outIf: "docker0"),
            Self.event("nat:POSTROUTING:policy:2", line: 6, ttl: 63, inIf: nil, outIf: "docker0"),
        ]
        let walks = Self.walks(events)
        #expect(walks.count == 1)
        let steps = walks[0].steps
        #expect(steps.map(\.hook) == [.prerouting, .forward, .forward, .forward, .forward, .postrouting])
        #expect(steps[1].verdict == .jump("DOCKER-USER"))
        #expect(steps[2].verdict == .return)
        #expect(steps[3].verdict == .jump("DOCKER"))
        #expect(steps[4].verdict == .accept)
        #expect(walks[0].path == .forward)
    }

    @Test func dnatIsObservedOnTheNextHook() {
        let events = [
            Self.event("raw:PREROUTING:policy:2", line: 1, dst: "10.0.0.1", dport: 8765),
            Self.event("nat:PREROUTING:rule:1", line: 2, dst: "10.0.0.1", dport: 8765),
            Self.event("filter:FORWARD:policy:1", line: 3, dst: "10.0.1.2", dport: 80, ttl: 63, outIf: "veth1"),
            Self.event(
                "nat:POSTROUTING:policy:1", line: 4, dst: "10.0.1.2", dport: 80, ttl: 63, inIf: nil, outIf: "veth1"),
        ]
        let walks = Self.walks(events)
        #expect(walks.count == 1)
        let nat = walks[0].nat
        #expect(nat.count == 1)
        #expect(nat.first?.type == .dnat)
        #expect(nat.first?.field == "dst")
        #expect(nat.first?.before == "10.0.0.1:8765")
        #expect(nat.first?.after == "10.0.1.2:80")
        #expect(nat.first?.evidence == .observed)
        #expect(nat.first?.at == "nat:PREROUTING")
    }

    @Test func rewriteWithoutPassingANatPointIsAnotherPacket() {
        let events = [
            Self.event("filter:FORWARD:policy:1", line: 1, ttl: 63, outIf: "veth1"),
            Self.event("nat:POSTROUTING:policy:1", line: 2, dst: "10.9.9.9", ttl: 63, inIf: nil, outIf: "veth1"),
        ]
        #expect(Self.walks(events).count == 2)
    }

    @Test func walkCutShortIsIncompleteAndNamesItsLastStep() {
        let events = [
            Self.event("raw:PREROUTING:policy:2", line: 1),
            Self.event("mangle:PREROUTING:policy:1", line: 2),
        ]
        let walks = Self.walks(events)
        #expect(walks.count == 1)
        #expect(walks[0].path == .incomplete)
        #expect(walks[0].notes.contains { $0.contains("mangle:PREROUTING") })
    }

    @Test func silenceWhereLaterTablesPrintIsADrop() {
        var options = Correlator.Options()
        options.windowEvents = 4
        var events = Self.forward(id: 1, base: 1)
        // Packet 2 stops at filter:FORWARD although POSTROUTING tables print for packet 1.
        events += [
            Self.event("raw:PREROUTING:policy:3", line: 10, id: 2),
            Self.event("filter:FORWARD:rule:5", line: 11, ttl: 63, id: 2, outIf: "bond0"),
        ]
        events += (20..<30).map { Self.event("raw:PREROUTING:policy:3", line: $0, id: UInt32($0 * 100)) }
        let walks = Self.walks(events, options: options)
        let dropped = walks.first { $0.steps.first?.event.source.line == 10 }
        #expect(dropped?.verdict == .drop)
        #expect(dropped?.steps.last?.verdict == .drop)
        #expect(dropped?.steps.last?.verdictInferred == true)
    }

    @Test func walksComeOutInTheOrderTheyStartedWhenTheyCloseOutOfOrder() {
        var out: [PacketWalk] = []
        var c = Correlator { out.append($0) }
        /// A forwarded packet dropped in filter FORWARD: its walk closes at its third step.
        func dropped(_ id: Int) -> [TraceEvent] {
            var steps = Array(Self.forward(id: UInt32(id), base: 10 * id).prefix(3))
            steps[2].verdict = .drop
            return steps
        }
        let first = dropped(1)
        c.add(first[0])
        // Walks 2 to 40 are dropped while the first is still open: they wait for it.
        for id in 2...40 { for e in dropped(id) { c.add(e) } }
        #expect(out.isEmpty)
        c.add(first[1])
        c.add(first[2])
        #expect(out.map(\.packet) == Array(1...40))
        // Then each walk comes out as soon as it closes, many times round the linker's slots.
        for id in 41...200 { for e in dropped(id) { c.add(e) } }
        #expect(out.map(\.packet) == Array(1...200))
        #expect(out.map { $0.steps.map(\.event.source.line) } == (1...200).map { [10 * $0, 10 * $0 + 1, 10 * $0 + 2] })
        #expect(out.allSatisfy { $0.verdict == .drop })
        c.finish()
        #expect(out.count == 200)
    }

    @Test func memoryStaysBoundedByTheWindow() {
        var options = Correlator.Options()
        options.windowEvents = 64
        var released = 0
        var c = Correlator(options: options) { _ in released += 1 }
        for i in 0..<20_000 {
            c.add(Self.event("raw:PREROUTING:policy:3", line: i, id: UInt32(i % 60000) + 1))
            if i > 1000 { #expect(i - released < 200) }
        }
        c.finish()
        #expect(released == 20_000)
    }
}
