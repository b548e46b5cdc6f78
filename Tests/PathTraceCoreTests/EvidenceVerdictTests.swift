import PathTraceCore
import Testing

/// Issue 8 §3 on hand-built legacy TRACE events: a walk that ends in a matched rule (whose target
/// TRACE never prints) is a drop only when a table would have printed next for this packet.
@Suite struct EvidenceVerdictTests {
    typealias S = StitcherTests

    /// Another packet a second later: the walks before it were not cut off by the end of the input.
    static let later = S.event("raw:PREROUTING:policy:3", line: 99, id: 999, time: 2)

    /// A first packet: nat printed at PREROUTING, so iptables' nat table is loaded and its INPUT chain
    /// would have printed after filter.
    @Test func aFirstPacketSilentAfterFilterInputIsDroppedAndNamesNatInput() throws {
        let walks = S.walks([
            S.event("raw:PREROUTING:policy:3", line: 1, time: 1),
            S.event("nat:PREROUTING:policy:1", line: 2, time: 1),
            S.event("filter:INPUT:rule:4", line: 3, time: 1),
            Self.later,
        ])
        let walk = try #require(walks.first)
        #expect(walks.count == 2)
        #expect(walk.verdict == .drop)
        #expect(walk.steps.last?.verdict == .drop && walk.steps.last?.verdictInferred == true)
        #expect(walk.notes.contains { $0.contains("nat:INPUT would have printed next for this packet") })
    }

    /// A later packet (nat skipped it) with nothing loaded after filter at INPUT: the trace cannot tell.
    @Test func aLaterPacketSilentAfterFilterInputIsUnknown() throws {
        let walks = S.walks([
            S.event("raw:PREROUTING:policy:3", line: 1),
            S.event("nat:PREROUTING:policy:1", line: 2, id: 1),
            S.event("filter:INPUT:rule:4", line: 3, id: 1),
            S.event("raw:PREROUTING:policy:3", line: 10, id: 2),
            S.event("filter:INPUT:rule:1", line: 11, id: 2),
        ])
        let later = try #require(walks.first { $0.firstHeader?.ipID == 2 })
        #expect(later.verdict == .unknown)
        #expect(later.steps.last?.verdict == nil)
        #expect(later.notes.contains { $0.contains("filter:INPUT rule 1 matched and nothing that prints") })
    }

    /// At FORWARD the next table is at the next hook: mangle, loaded (it printed at PREROUTING).
    @Test func silenceAfterFilterForwardNamesTheNextHooksTable() throws {
        let walks = S.walks([
            S.event("raw:PREROUTING:policy:3", line: 1, time: 1),
            S.event("mangle:PREROUTING:policy:1", line: 2, time: 1),
            S.event("mangle:FORWARD:policy:1", line: 3, ttl: 63, outIf: "bond0", time: 1),
            S.event("filter:FORWARD:rule:2", line: 4, ttl: 63, outIf: "bond0", time: 1),
            Self.later,
        ])
        let walk = try #require(walks.first)
        #expect(walk.verdict == .drop)
        #expect(walk.notes.contains { $0.contains("mangle:POSTROUTING would have printed next") })
    }

    /// A nat rule cannot drop (iptables refuses DROP in nat): its silence at the last hook is the packet leaving.
    @Test func aNatRuleLastAtPostroutingIsAnAccept() throws {
        let walks = S.walks(S.forward(id: 7, base: 1))
        #expect(walks.count == 1)
        #expect(walks.first?.verdict == .accept)
    }
}
