import Testing

@testable import PathTraceCore

/// The stitcher's expiry queue and packed units: the forms the joining reads give the answers the
/// plain ones gave.
@Suite struct StitcherQueueTests {
    @Test func activityQueueKeepsOrderAndLetsWalksGo() {
        weak var first: OpenWalk?
        weak var second: OpenWalk?
        var queue = ActivityQueue()
        do {
            let a = OpenWalk(packet: 1, eventIndex: 0)
            let b = OpenWalk(packet: 2, eventIndex: 1)
            let c = OpenWalk(packet: 3, eventIndex: 2)
            first = a
            second = b
            // Interleaved walks, more entries than the ring's first size: a walk's repeated entry at
            // the back is one entry moved up, and only each walk's last entry is live.
            for i in 0..<200 { queue.touch(i % 2 == 0 ? a : b, at: i) }
            queue.touch(b, at: 200)
            queue.touch(c, at: 201)
            // The back entry is the walk touched last (the stitcher's last walk).
            #expect(queue.back?.takeUnretainedValue() === c)
            #expect(queue.count == 201)
            #expect(a.queuePosition >= 0 && b.queuePosition > a.queuePosition && c.queuePosition > b.queuePosition)
            var seen: [(Int, Int)] = []
            while let (walk, index) = queue.front, seen.count < 2 {
                seen.append((walk.takeUnretainedValue().packet, index))
                queue.removeFirst()
            }
            // The stale entries were passed over: each walk's last touch, in the order touched.
            #expect(seen.map(\.0) == [1, 2] && seen.map(\.1) == [198, 200])
            #expect(a.queuePosition == -1 && b.queuePosition == -1)
            #expect(queue.frontIndex == 201 && queue.count == 1)
        }
        // The queue alone keeps the walks while they have a live entry.
        #expect(first == nil && second == nil)
        var lastIndex = 0
        while let (_, index) = queue.front {
            lastIndex = index
            queue.removeFirst()
        }
        #expect(lastIndex == 201 && queue.isEmpty && queue.back == nil && queue.frontIndex == -1)
    }

    @Test func activityQueueKeepsWalksWithLiveEntries() {
        weak var kept: OpenWalk?
        var queue = ActivityQueue()
        do {
            let a = OpenWalk(packet: 1, eventIndex: 0)
            let b = OpenWalk(packet: 2, eventIndex: 1)
            kept = a
            queue.touch(a, at: 1)
            queue.touch(b, at: 2)
            queue.touch(a, at: 3)
            // a's first entry is stale now: the front passes over it to b's.
            #expect(queue.frontIndex == -1)
            #expect(queue.front?.index == 2 && queue.front?.walk.takeUnretainedValue() === b)
        }
        #expect(kept != nil)
        queue.removeFirst()
        #expect(queue.front?.index == 3 && kept != nil)
        queue.removeFirst()
        #expect(kept == nil && queue.isEmpty)
    }

    @Test func tracedFieldsAreTheLastTracedStepsOnes() {
        func event(_ table: String, _ chain: String, _ kind: StepKind, verdict: StepVerdict? = nil) -> TraceEvent {
            let origin: EventOrigin = kind == .log ? .logTarget : .kernelTrace
            var e = TraceEvent(
                source: SourcePosition(file: "t", line: 1), origin: origin, family: .ipv4, table: table,
                chain: chain, kind: kind)
            e.verdict = verdict
            return e
        }
        // A LOG line first (it is `lastTraced` while it is the only kind of step), then TRACE lines,
        // then a LOG line that leaves the last TRACE line's fields.
        let steps = [
            event("", "", .log), event("raw", "PREROUTING", .policy), event("filter", "FORWARD", .rule),
            event("filter", "fw-in", .rule, verdict: .accept), event("", "", .log),
        ]
        let walk = OpenWalk(packet: 1, eventIndex: 0)
        for (index, e) in steps.enumerated() {
            walk.steps.append(WalkStep(event: e, hook: nil, verdictInferred: false, verdict: e.verdict))
            walk.trace(e, index: index, ipLog: e.kind == .log)
            let last = walk.lastTraced
            #expect(walk.tracedTable == last.tableSlot && walk.tracedChain == last.chainSlot, "step \(index)")
            #expect(walk.tracedEnded == (last.kind == .policy || last.verdict == .accept), "step \(index)")
        }
        #expect(walk.lastTraced.chain == "fw-in" && walk.tracedEnded)
    }

    @Test func packedUnitsAnswerAsTheirUnits() {
        let units = [
            ChainUnit(table: .raw), ChainUnit(table: .raw, chain: .empty), ChainUnit(table: "fw4", chain: "input"),
            ChainUnit(table: .nat, chain: "POSTROUTING"), ChainUnit(table: .filter), ChainUnit(table: .mangle),
        ]
        var packed = FinishedUnits()
        for unit in units {
            guard let key = FinishedUnits.packed(unit) else {
                Issue.record("\(unit.label) has table names only")
                continue
            }
            #expect(FinishedUnits.unit(packed: key) == unit, "\(unit.label)")
            packed.insert(packed: key)
        }
        // More than three: the rest are kept as units and found by their keys too.
        for unit in units {
            let key = FinishedUnits.packed(unit) ?? 0
            let byKey = packed.contains(packed: key)
            let byUnit = packed.contains(unit)
            #expect(byKey && byUnit, "\(unit.label)")
        }
        let other = FinishedUnits.packed(ChainUnit(table: "fw4", chain: "output"))!
        let otherFound = packed.contains(packed: other)
        #expect(!otherFound)

        // A walk keeps its unit packed, and a unit with a boxed name as it is.
        let walk = OpenWalk(packet: 1, eventIndex: 0)
        #expect(walk.currentUnit == ChainUnit(table: .empty))
        walk.currentUnit = ChainUnit(table: "fw4", chain: "input")
        #expect(walk.currentKey == FinishedUnits.packed(ChainUnit(table: "fw4", chain: "input")))
        let boxed = ChainUnit(table: .nat, chain: StitcherStateTests.boxed("a chain past the name table"))
        walk.currentUnit = boxed
        #expect(walk.currentKey == 0 && walk.currentUnit == boxed)

        // The question put to `Visibility` is the same packed or not.
        for unit in units {
            for legacy in [nil, Name.nat] {
                let plain = NoteKey(unit, hook: .forward, nat: true, legacyTable: legacy)
                let fromKey = NoteKey(
                    packed: FinishedUnits.packed(unit)!, hook: .forward, nat: true,
                    legacyTable: legacy.flatMap { NameSlot.of($0) })
                #expect(plain != nil && plain == fromKey, "\(unit.label)")
            }
        }
    }

    @Test func identityKeysAndFlowsAsTheHeaderShowsThem() {
        var h = PacketHeader()
        h.src = IPAddress("10.0.0.1")
        h.dst = IPAddress("10.0.0.2")
        h.proto = IPProtocol.tcp
        h.sport = 40000
        h.dport = 80
        h.ipID = 7
        h.length = 60
        h.tcpSeq = 12345
        h.ttl = 64
        let id = HeaderIdentity(h)
        #expect(id.invariantKey == InvariantKey(proto: 6, ipID: 7, length: 60, seq: 12345))
        #expect(id.natSourcePort == 40000 && id.natDestinationPort == 80)
        // An ebtables line shows the flow only: the same flow, and over the full identity it keeps
        // the IP invariants.
        var weak = PacketHeader()
        weak.src = h.src
        weak.dst = h.dst
        weak.proto = h.proto
        weak.sport = h.sport
        weak.dport = h.dport
        let flow = HeaderIdentity(weak)
        #expect(flow.isWeak && flow.invariantKey == InvariantKey(proto: 6, ipID: 0, length: 0, seq: 0))
        #expect(id.sameFlow(as: flow) && flow.sameFlow(as: id))
        let overlaid = id.overlaid(with: flow)
        #expect(!overlaid.isWeak && overlaid.invariantKey == id.invariantKey && overlaid.sameSource(as: id))
        // Rewritten by NAT: another flow, and the overlay shows the new source.
        weak.src = IPAddress("192.0.2.1")
        weak.sport = 1024
        let natted = HeaderIdentity(weak)
        #expect(!id.sameFlow(as: natted))
        let moved = id.overlaid(with: natted)
        #expect(!moved.sameSource(as: id) && moved.sameDestination(as: id))
        #expect(moved.sourceEndpoint?.description == "192.0.2.1:1024")
        // One TTL less after forwarding; a header without TTL does not disagree.
        h.ttl = 63
        #expect(!id.sameTTL(as: HeaderIdentity(h)) && id.sameTTL(as: flow))
        // Without protocol and IP id there is no key.
        #expect(HeaderIdentity(PacketHeader()).invariantKey == nil)
        // The index's packed key is the invariant key's, and vacant where there is none; a header
        // without fields still makes an identity, where no header makes none.
        #expect(id.indexKey == WalkIndex.Key(id.invariantKey!) && flow.indexKey == WalkIndex.Key(flow.invariantKey!))
        #expect(id.indexKey != flow.indexKey && HeaderIdentity(PacketHeader()).indexKey.isVacant)
        #expect(HeaderIdentity(PacketHeader()).exists && !HeaderIdentity().exists && !HeaderIdentity().sameFlow(as: id))
        // Under one key, headers without ICMP fields agree (another TTL, no sequence on one side); ICMP
        // headers whose codes differ do not, though their keys are the same.
        var later = h
        later.ttl = 40
        let laterID = HeaderIdentity(later)
        #expect(laterID.indexKey == id.indexKey && id.invariantsAgree(with: laterID, sameKey: true))
        var echo = PacketHeader()
        echo.proto = IPProtocol.icmp
        echo.ipID = 9
        echo.length = 84
        echo.icmpType = 8
        echo.icmpCode = 0
        echo.icmpSeq = 1
        var otherCode = echo
        otherCode.icmpCode = 1
        let a = HeaderIdentity(echo)
        let b = HeaderIdentity(otherCode)
        #expect(a.indexKey == b.indexKey && !a.invariantsAgree(with: b, sameKey: true))
    }
}
