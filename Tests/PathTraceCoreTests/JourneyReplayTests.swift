import Foundation
import PathTraceCore
import TestSupport
import Testing

/// A real `--save` of the libvirt-nat lab traced in its three namespaces at once, replayed with the
/// topology snapshot `pathtrace topology --save` took of them (Fixtures/captures/journey-libvirt-nat.*):
/// the same walks and journeys the live run showed, without root.
@Suite struct JourneyReplayTests {
    static let events = "captures/journey-libvirt-nat.events.jsonl"
    static let topology = "captures/journey-libvirt-nat.topology.json"

    static func replay(topology: Bool = true) throws -> (
        walks: [PacketWalk], journeys: [Journey], summary: ReplayPipeline.Summary
    ) {
        let snapshot = topology ? try TopologyFile.load(Fixtures.url(Self.topology).path) : nil
        var walks: [PacketWalk] = []
        var journeys: [Journey] = []
        var pipeline = ReplayPipeline(topology: snapshot) { walks.append($0) }
        pipeline.onJourney = { journeys.append($0) }
        try pipeline.read(
            MemorySource(name: Self.events, bytes: Array(try Data(contentsOf: Fixtures.url(Self.events)))))
        let summary = pipeline.finish()
        return (walks, journeys, summary)
    }

    @Test func theSynCrossesThreeNamespacesAsOneJourney() throws {
        let r = try Self.replay()
        #expect(r.walks.count == 30)
        #expect(r.summary.stats.incomplete == 0)
        #expect(Set(r.walks.map(\.packet)).count == 30, "packet numbers are unique across namespaces")
        let syn = try #require(r.journeys.first)
        #expect(syn.netns == ["ptlv-vm", "ptlv-host", "ptlv-wan"])
        #expect(syn.links == ["ptlv-vm:eth0 ⇢ ptlv-host:vnet0", "ptlv-host:bond0 ⇢ ptlv-wan:eth0"])
        #expect(syn.legs.map(\.hooks) == [[.output], [.prerouting, .forward, .postrouting], [.prerouting]])
        let masquerade = try #require(syn.legs[1].nat.first)
        #expect(masquerade.type == .masquerade)
        #expect(masquerade.after == "10.44.0.1:42954")
        // The SYN-ACK goes back the other way: wan → host (de-MASQUERADEd) → vm.
        let reply = try #require(r.journeys.dropFirst().first)
        #expect(reply.netns == ["ptlv-wan", "ptlv-host", "ptlv-vm"])
        #expect(r.journeys.count == 10)
    }

    @Test func walksNameTheirDevicesAndWhereTheyWent() throws {
        let r = try Self.replay()
        let host = try #require(r.walks.first { $0.netns == "ptlv-host" })
        #expect(
            host.interfaces.map { "\($0.name): \($0.role)" } == [
                "virbr0: bridge (ports vnet0)", "bond0: veth ⇄ ptlv-wan:eth0",
            ])
        // Nothing is loaded in the wan namespace past PREROUTING: the topology says the SYN was for it.
        let wan = try #require(r.walks.first { $0.netns == "ptlv-wan" })
        #expect(wan.path == .input)
        #expect(wan.vanished.isEmpty)
        #expect(wan.notes.contains { $0.hasPrefix("no chain is loaded at the later hooks in ptlv-wan") })
    }

    @Test func withoutTheTopologyTheNamespacesStayApartButNothingJoins() throws {
        let r = try Self.replay(topology: false)
        #expect(r.walks.count == 30)
        #expect(r.journeys.isEmpty)
        #expect(Set(r.walks.compactMap(\.netns)) == ["ptlv-vm", "ptlv-host", "ptlv-wan"])
        let reply = try #require(r.walks.first { $0.netns == "ptlv-host" && $0.replyTo != nil })
        let opener = try #require(r.walks.first { $0.packet == reply.replyTo })
        #expect(opener.netns == "ptlv-host", "reply_to follows the renumbering")
    }

    /// Each namespace's walks come out of their own correlator (in their own order), the namespaces in
    /// any order: a wan walk may come out before the vm walk of the same packet. Linking works both ways.
    @Test func namespacesSeenInReverseOrderJoinTheSame() throws {
        let r = try Self.replay()
        let topology = try TopologyFile.load(Fixtures.url(Self.topology).path)
        var linker = JourneyLinker(topology: topology)
        for netns in ["ptlv-wan", "ptlv-host", "ptlv-vm"] {
            for walk in r.walks where walk.netns == netns { linker.add(walk) }
        }
        linker.finish()
        let journeys = linker.take()
        #expect(Set(journeys.map(\.netns)) == Set(r.journeys.map(\.netns)))
        #expect(Set(journeys.map(\.walks)) == Set(r.journeys.map(\.walks)))
        #expect(journeys.count == r.journeys.count)
    }
}
