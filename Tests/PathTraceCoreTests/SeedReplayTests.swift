import PathTraceCore
import TestSupport
import Testing

/// The Done-when of the replay issue: the seed 001 dmesg sample, verbatim.
@Suite struct SeedReplayTests {
    @Test func oneForwardWalkOfSevenStepsWithTTLDecrement() throws {
        let r = try ReplayHarness.run(["seed/001-libvirt-nat.dmesg"])
        #expect(r.skipped.isEmpty)
        #expect(r.walks.count == 1)
        let walk = try #require(r.walks.first)
        #expect(walk.path == .forward)
        #expect(walk.verdict == .accept)
        #expect(
            walk.chainSequence == [
                "raw:PREROUTING:policy:3", "mangle:PREROUTING:policy:1", "nat:PREROUTING:policy:1",
                "mangle:FORWARD:policy:1", "filter:FORWARD:rule:2", "mangle:POSTROUTING:policy:4",
                "nat:POSTROUTING:rule:3",
            ])
        #expect(
            walk.steps.map(\.hook) == [
                .prerouting, .prerouting, .prerouting, .forward, .forward, .postrouting, .postrouting,
            ])
        #expect(walk.steps.map { $0.event.header?.ttl } == [64, 64, 64, 63, 63, 63, 63])
        // Without a ruleset only the nat chain is known: evidence `chain`, after unknown.
        #expect(walk.nat.count == 1)
        #expect(walk.nat.first?.evidence == .chain)
        #expect(walk.nat.first?.field == "src")
        #expect(walk.nat.first?.before == "192.168.122.17:42954")
        #expect(walk.nat.first?.after == nil)
    }

    @Test func seedListingsResolveRulesAndTheMasquerade() throws {
        let r = try ReplayHarness.run(
            ["seed/001-libvirt-nat.dmesg"],
            rulesets: [(nil, "seed/001-filter.nvL"), (nil, "seed/001-nat.nvL")])
        let walk = try #require(r.walks.first)
        let forward = walk.steps[4]
        #expect(forward.event.ruleText?.contains("virbr0") == true)
        #expect(forward.event.ruleText?.contains("192.168.122.0/24") == true)
        #expect(forward.event.ruleText?.hasPrefix("ACCEPT") == true)
        #expect(forward.verdict == .accept)
        let post = walk.steps[6]
        #expect(post.event.ruleText?.hasPrefix("MASQUERADE") == true)
        #expect(post.event.ruleText?.contains("tcp") == true)
        let nat = try #require(walk.nat.first)
        #expect(walk.nat.count == 1)
        #expect(nat.type == .masquerade)
        #expect(nat.field == "src")
        #expect(nat.before == "192.168.122.17:42954")
        #expect(nat.after == nil)
        #expect(nat.evidence == .rule)
        #expect(nat.at == "nat:POSTROUTING")
    }

    @Test func theWholeSeedNoteIsAlsoARuleset() throws {
        let r = try ReplayHarness.run(
            ["seed/001-libvirt-nat.dmesg"], rulesets: [(nil, "seed/001_83fd750653f71ea3.txt")])
        let walk = try #require(r.walks.first)
        #expect(walk.steps[4].event.ruleText?.contains("virbr0") == true)
        #expect(walk.nat.first?.type == .masquerade)
    }
}
