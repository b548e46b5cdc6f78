import Foundation
import PathTraceCore
import PathTraceRender
import Testing

/// pathtrace's own nft steps fold into one `traced from` line (all of them with `verbose`), and a walk
/// whose records carry no time of their own prints no time column, never `+0.000000`.
@Suite struct OwnStepsAndTimesTests {
    static func step(
        _ table: String, _ chain: String, _ kind: StepKind, time: Double?, basis: TimeBasis, header: Bool = false
    ) -> WalkStep {
        var e = TraceEvent(
            source: SourcePosition(file: "netlink", line: 1), origin: .netlink, family: .ipv4, table: table,
            chain: chain, kind: kind)
        e.time = time
        e.timeBasis = basis
        e.tableFamily = table.hasPrefix("pathtrace_") ? "inet" : "ip"
        if kind == .rule { e.rule = .handle(4) }
        if header {
            var h = PacketHeader()
            h.src = IPAddress("10.0.0.1")
            h.dst = IPAddress("10.0.0.2")
            h.proto = IPProtocol.tcp
            h.sport = 40000
            h.dport = 8080
            h.ttl = 64
            e.header = h
            e.inIface = "eth0"
        }
        return WalkStep(
            event: e, hook: .prerouting, verdict: kind == .rule ? .continue : .accept, verdictInferred: false)
    }

    /// An nft walk as the live collector delivers it: every step received in one batch, at one wall time.
    static func nftWalk() -> PacketWalk {
        let t = 1_764_171_192.250001
        var walk = PacketWalk(packet: 1, family: .ipv4)
        walk.steps = [
            step("pathtrace_6fa2f802", "prerouting", .rule, time: t, basis: .received, header: true),
            step("pathtrace_6fa2f802", "prerouting", .return, time: t, basis: .received),
            step("pathtrace_6fa2f802", "prerouting", .policy, time: t, basis: .received),
            step("raw", "PREROUTING", .policy, time: t, basis: .received, header: true),
            step("nat", "PREROUTING", .policy, time: t, basis: .received),
        ]
        walk.path = .input
        walk.verdict = .accept
        return walk
    }

    /// A table is pathtrace's own when its name is `pathtrace_` and a session id (1 to 16 of `a-z 0-9`),
    /// whether or not the name is in the name table, and whatever the user's table is called otherwise.
    @Test func ownTablesAreThoseNamedAfterASession() {
        func own(_ table: String) -> Bool {
            OwnTraceSteps.isOwn(
                TraceEvent(
                    source: SourcePosition(file: "t", line: 1), origin: .netlink, family: .ipv4, table: table,
                    chain: "prerouting", kind: .rule))
        }
        #expect(own("pathtrace_1a2b3c4d") && own("pathtrace_z") && own("pathtrace_0123456789abcdef"))
        #expect(!own("pathtrace_") && !own("pathtrace_0123456789abcdefg") && !own("pathtrace_1A2B"))
        #expect(!own("pathtrace_1a-2b") && !own("pathtrace1a2b") && !own("filter") && !own("mypathtrace_1a"))
    }

    @Test func ownStepsFoldIntoOneLine() {
        let text = TextTimeline(options: RenderOptions()).render(Self.nftWalk())
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines[1] == "  received 15:33:12.250001 UTC (no time per step: the records carry none)")
        #expect(lines[2] == "  traced from pathtrace_6fa2f802 (prerouting: 3 steps; --verbose shows them)")
        #expect(lines[3].hasPrefix("  PREROUTING  raw:PREROUTING         policy       accept     in eth0  TTL 64"))
        #expect(lines[4].hasPrefix("              nat:PREROUTING"))
        #expect(lines.count == 5)
        #expect(!text.contains("+0.000000"))
        #expect(!text.contains("pathtrace_6fa2f802:"))
    }

    @Test func verboseShowsEveryStep() {
        let text = TextTimeline(options: RenderOptions(verbose: true)).render(Self.nftWalk())
        #expect(!text.contains("traced from"))
        #expect(text.contains("pathtrace_6fa2f802:prerouting rule #4"))
        #expect(text.contains("pathtrace_6fa2f802:prerouting policy"))
        #expect(text.split(separator: "\n").count == 7)
        #expect(!text.contains("+0.000000"))
    }

    @Test func jsonLeavesOwnStepsOutAndNamesThem() throws {
        let w = JSONWriter()
        WalkJSON.write(Self.nftWalk(), to: w)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(w.bytes)) as? [String: Any])
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.map { $0["table"] as? String } == ["raw", "nat"])
        #expect(steps.allSatisfy { $0["time_basis"] as? String == "received" })
        let from = try #require(object["traced_from"] as? [String: Any])
        #expect(from["table"] as? String == "pathtrace_6fa2f802")
        #expect(from["chains"] as? [String] == ["prerouting"])
        #expect(from["steps"] as? Int == 3)
        // The flow is the packet as it entered, whichever step carried it.
        let flow = try #require(object["flow"] as? [String: Any])
        #expect(flow["dport"] as? Int == 8080)

        let all = JSONWriter()
        WalkJSON.write(Self.nftWalk(), to: all, verbose: true)
        let full = try #require(try JSONSerialization.jsonObject(with: Data(all.bytes)) as? [String: Any])
        #expect((full["steps"] as? [[String: Any]])?.count == 5)
        #expect(full["traced_from"] == nil)
    }

    /// A later packet of a DNAT'd connection: only pathtrace's own step saw it before the translation.
    /// The header still shows the packet as it entered, and the first step shown the rewrite since.
    @Test func theFlowIsThePacketAsItEnteredThoughItsStepIsFolded() throws {
        var walk = Self.nftWalk()
        walk.steps.removeSubrange(3...)
        var forward = Self.step("portmap", "forward", .rule, time: 1, basis: .received, header: true)
        forward.hook = .forward
        forward.event.header?.dst = IPAddress("10.0.0.9")
        forward.event.header?.dport = 80
        forward.event.header?.ttl = 63
        walk.steps.append(forward)
        let text = TextTimeline(options: RenderOptions()).render(walk)
        #expect(text.hasPrefix("packet 1  ipv4 tcp 10.0.0.1:40000 → 10.0.0.2:8080"))
        #expect(text.contains("DST 10.0.0.2:8080 → 10.0.0.9:80"))
        let w = JSONWriter()
        WalkJSON.write(walk, to: w)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(w.bytes)) as? [String: Any])
        #expect((object["flow"] as? [String: Any])?["dport"] as? Int == 8080)
        #expect((object["steps"] as? [[String: Any]])?.count == 1)
    }

    /// A garbled saved event's time (`1795710163.5846457` with a digit run duplicated) is beyond what
    /// microseconds in an Int64 hold: printed as it is, instead of stopping the replay.
    @Test func aTimeTooLargeForMicrosecondsPrintsAsItIs() {
        var walk = Self.nftWalk()
        for i in walk.steps.indices { walk.steps[i].event.time = 17_957_101_635_846_457 }
        let text = TextTimeline(options: RenderOptions()).render(walk)
        #expect(text.contains("received 1.7957101635846456e+16 s"))
        walk.steps[4].event.time = 1
        walk.steps[4].event.timeBasis = .kernel
        #expect(TextTimeline(options: RenderOptions()).render(walk).contains("nat:PREROUTING"))
    }

    @Test func aWalkOfOnlyOwnStepsKeepsThem() {
        var walk = Self.nftWalk()
        walk.steps.removeLast(2)
        #expect(walk.foldingOwnSteps() == nil)
        #expect(TextTimeline(options: RenderOptions()).render(walk).contains("pathtrace_6fa2f802:prerouting"))
    }

    @Test func aUserTableNamedLikeOursIsNotFolded() {
        var walk = Self.nftWalk()
        for i in walk.steps.indices where walk.steps[i].event.table.hasPrefix("pathtrace_") {
            walk.steps[i].event.table = "pathtrace_Prod-Rules"
        }
        #expect(walk.foldingOwnSteps() == nil)
    }

    @Test func kernelTimesKeepTheColumn() {
        var walk = Self.nftWalk()
        for i in walk.steps.indices {
            walk.steps[i].event.timeBasis = .kernel
            walk.steps[i].event.time = 100 + Double(i) / 1000
        }
        let text = TextTimeline(options: RenderOptions()).render(walk)
        #expect(text.contains("  +0.000000  PREROUTING  raw:PREROUTING"))
        #expect(text.contains("  +0.001000              nat:PREROUTING"))
        #expect(!text.contains("received"))
    }

    @Test func savedEventsKeepTheTimeBasis() {
        let w = JSONWriter()
        SavedEvents.write(Self.nftWalk().steps[0].event, to: w)
        #expect(String(decoding: w.bytes, as: UTF8.self).contains(#""time_basis":"received""#))
    }
}
