#if os(Linux)
import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import PathTraceRender
import TestSupport
import Testing

/// `lab run` across namespaces, as the library runs it: the journeys across a lab's namespaces, the
/// causes named for packets that went no further, and a replay of the saved events with the topology
/// snapshot showing the same journey.
@Suite(.serialized, .offPool, .enabled(if: Live.available, "needs root, CAP_NET_ADMIN, iproute2, iptables, nftables"))
struct JourneyLabTests {
    /// The lab run with a prefix of this run's own (`ptj<pid><letters>`).
    static func run(_ name: String, edit: (inout LabSpec) -> Void = { _ in }, onEvent: ((TraceEvent) -> Void)? = nil)
        throws -> (LabSpec, LabRun.Result)
    {
        var spec = try Fixtures.lab(name, prefix: "ptj\(getpid() % 100_000)\(LiveLab.letters(Live.next()))")
        edit(&spec)
        var run = LabRun(spec: spec)
        run.settle = 1
        run.onEvent = onEvent
        let result = try run.run(onWalk: { _ in })
        #expect(LabBuilder(spec: spec).existingNamespaces().isEmpty)
        #expect(result.summary.cleanlyRemoved)
        for walk in result.walks { Self.expectTheSameStepsEverywhere(walk) }
        return (spec, result)
    }

    /// The timeline, `--explain` and `--show-flow` of a walk list the same steps in the same order.
    static func expectTheSameStepsEverywhere(_ walk: PacketWalk) {
        let chains = walk.steps.map { "\($0.event.table):\($0.event.chain)" }
        let explained = Explain.steps(walk)
        #expect(explained.count == chains.count, "explain of \(walk.netns ?? "") packet \(walk.packet)")
        for (step, sentence) in zip(walk.steps, explained) where !step.event.table.hasPrefix("pathtrace_") {
            // `table:chain` for a base chain, "the user chain X" for a chain jumped to.
            #expect(sentence.contains(step.event.chain), "the sentence names its step: \(sentence)")
        }
        let numbered = FlowLayout.text(of: walk).split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard words.count >= 2, Int(words[0]) != nil, words[1].contains(":") else { return nil }
            return String(words[1])
        }
        #expect(numbered == chains, "flow of \(walk.netns ?? "") packet \(walk.packet)")
        let verbose = TextTimeline(options: RenderOptions(verbose: true)).render(walk)
        var at = verbose.startIndex
        for chain in chains {
            guard let found = verbose.range(of: " \(chain) ", range: at..<verbose.endIndex) else {
                Issue.record("timeline of \(walk.netns ?? "") packet \(walk.packet) lacks \(chain)")
                break
            }
            at = found.upperBound
        }
    }

    /// Every other lab: its trace shows what its file expects, and each walk's timeline, sentences and
    /// diagram agree.
    @Test(arguments: [
        "libvirt-nat-nft", "qemu-bridge-nat", "qemu-bridge-nat-nft", "qemu-bridge-nat-brnf", "double-nat-nft",
        "veth-traps-fixed", "lan-dnat-snat-nft", "dnat-port", "dnat-port-nft", "mixed-forward",
    ])
    func labRunShowsWhatTheLabExpects(_ name: String) throws {
        let (_, result) = try Self.run(name)
        #expect(result.problems == [])
        #expect(!result.walks.isEmpty)
    }

    static func walk(_ result: LabRun.Result, _ packet: Int) -> PacketWalk? {
        result.walks.first { $0.packet == packet }
    }

    @Test func doubleNatIsOneJourneyWithBothMasquerades() throws {
        let (spec, result) = try Self.run("double-nat")
        #expect(result.problems == [])
        let names = ["vm2", "ns-qemu", "vm1", "ns-qemu", "host"].map(spec.netns)
        let journey = try #require(result.journeys.first { $0.netns == names }, "\(result.journeys.map(\.netns))")
        #expect(journey.links.first == "\(spec.netns("vm2")):enp0s3 ⇢ \(spec.netns("ns-qemu")):tap2")
        let masquerades = journey.legs.flatMap(\.nat).filter { $0.type == .masquerade && $0.direction == "original" }
        #expect(masquerades.map(\.before) == ["192.168.3.2:40002", "192.168.33.3:40002"])
        #expect(masquerades.map(\.after) == ["192.168.33.3:40002", "198.51.100.1:40002"])
        // The host's walk names its wiring: the cable to ns-qemu and the address MASQUERADE picked.
        let hostWalk = try #require(Self.walk(result, journey.walks[4]))
        #expect(hostWalk.interfaces.contains { $0.name == "eth0" && $0.addresses.contains("198.51.100.1/24") })
        #expect(hostWalk.interfaces.contains { $0.name == "veth-host" && $0.role.contains("ns-qemu:veth-qemu") })
    }

    @Test func noForwardEndsInVm1AndNamesIpForward() throws {
        let (spec, result) = try Self.run("double-nat-noforward")
        #expect(result.problems == [])
        let journey = try #require(result.journeys.first { $0.netns.first == spec.netns("vm2") })
        #expect(journey.netns.last == spec.netns("vm1"))
        let cause = try #require(journey.vanished.first)
        #expect(cause.cause == .ipForward)
        #expect(cause.netns == spec.netns("vm1"))
        #expect(cause.detail.contains("net.ipv4.ip_forward=0"))
        #expect(cause.fix == "ip netns exec \(spec.netns("vm1")) sysctl -w net.ipv4.ip_forward=1")
    }

    @Test func vethTrapsNameMartianSourceAndTheMissingBridgeRule() throws {
        let (spec, result) = try Self.run("veth-traps")
        #expect(result.problems == [])
        let pair = try #require(result.walks.first { $0.netns == spec.netns("pair") })
        #expect(pair.vanished.first?.cause == .martianSource)
        #expect(pair.vanished.first?.detail.contains("accept_local=0 on veth1") == true)
        let bridged = try #require(result.walks.first { $0.netns == spec.netns("host") && $0.verdict == .drop })
        let cause = try #require(bridged.vanished.first)
        #expect(cause.cause == .policyDrop)
        #expect(cause.fix == "iptables -I FORWARD -i br0 -o br0 -j ACCEPT")
    }

    @Test func lanPortMapShowsTheDnatAndTheDeNatedReply() throws {
        let (spec, result) = try Self.run("lan-dnat-snat")
        #expect(result.problems == [])
        let hostWalks = result.walks.filter { $0.netns == spec.netns("host") }
        let syn = try #require(hostWalks.first)
        let dnat = try #require(syn.nat.first { $0.type == .dnat })
        #expect((dnat.before, dnat.after, dnat.evidence) == ("192.168.50.6:8765", "10.5.0.11:8765", .observed))
        let reply = try #require(hostWalks.first { $0.replyTo == syn.packet })
        #expect(
            reply.nat.contains {
                $0.field == "src" && $0.direction == "reply" && $0.before == "10.5.0.11:8765"
                    && $0.after == "192.168.50.6:8765"
            })
        #expect(result.journeys.contains { $0.netns == [spec.netns("lan"), spec.netns("host"), spec.netns("ns1")] })
    }

    /// A port map to another port (gateway 10.99.1.1:8080 → server 10.99.2.2:80), traced in the gateway
    /// and in the server's namespace with `--dport 8080`: once the gateway's walk shows the DNAT, the
    /// server's namespace traces the translated flow (port 80) too, and the next connection's packets
    /// there join the gateway's into journeys.
    @Test(arguments: ["dnat-port", "dnat-port-nft"])
    func dnatToAnotherPortIsFollowedIntoTheNamespaceBehind(_ name: String) throws {
        let spec = try Fixtures.lab(name, prefix: "ptj\(getpid() % 100_000)\(LiveLab.letters(Live.next()))")
        let builder = LabBuilder(spec: spec)
        try builder.up()
        defer { builder.down() }
        let servers = try LabTraffic.startServer(spec, idle: 15)
        defer { servers?.stop() }
        var filter = WalkFilter()
        filter.dport = PortRange("8080")
        filter.proto = IPProtocol.number("tcp")
        let targets = ["gw", "srv"].map {
            LiveTrace.Target.deciding(.named(spec.netns($0)), requested: nil, filter: filter)
        }
        let trace = LiveTrace(.init(targets: targets, filter: filter, duration: 30))
        let messages = Lines()
        trace.onMessage = messages.add
        var journeys: [Journey] = []
        trace.onJourney = { journeys.append($0) }
        // A new client port each time: two connections, not one reused tuple.
        var fresh = spec
        fresh.traffic = spec.traffic.map { t in
            var t = t
            t.sport = nil
            return t
        }
        let first = fresh
        trace.onReady = { trace in
            // The first connection shows the DNAT; its walk closes after the idle window, then the
            // rules for port 80 go in; the second connection is traced in both namespaces.
            _ = try? LabTraffic.exchange(first)
            Thread.sleep(forTimeInterval: 3.5)
            _ = try? LabTraffic.exchange(first)
            Thread.sleep(forTimeInterval: 2.5)
            trace.stop()
        }
        var walks: [PacketWalk] = []
        let summary = try trace.run { walks.append($0) }
        #expect(summary.cleanlyRemoved)
        let srv = spec.netns("srv")
        #expect(
            messages.all.contains { $0.hasPrefix("netns \(srv): following tcp to 10.99.2.2:80") }, "\(messages.all)")
        let server = walks.filter { $0.netns == srv }
        #expect(server.contains { $0.firstHeader?.dport == 80 && $0.path == .input })
        #expect(server.contains { $0.firstHeader?.sport == 80 && $0.path == .output })
        let gw = spec.netns("gw")
        #expect(journeys.contains { $0.netns == [gw, srv] }, "\(journeys.map(\.netns))")
    }

    /// The libvirt-nat lab traced in all three namespaces, its events saved: a replay of them with the
    /// topology snapshot shows the same one path from the VM to the proxy.
    @Test func replayOfSavedEventsWithTheTopologyShowsTheSameJourney() throws {
        let saved = SavedLines()
        let (spec, live) = try Self.run(
            "libvirt-nat",
            edit: { spec in
                spec.traces = ["vm", "host", "wan"].map { .init(ns: $0, dport: 3128, proto: "tcp") }
            }, onEvent: saved.add)
        #expect(live.problems == [])
        let path = ["vm", "host", "wan"].map(spec.netns)
        let journey = try #require(live.journeys.first { $0.netns == path }, "\(live.journeys.map(\.netns))")
        let topology = try #require(live.topology)
        let encoded = try TopologyFile.encode(topology)
        var replayed: [Journey] = []
        var pipeline = ReplayPipeline(topology: try Topology.decode(encoded, source: "snapshot"), emit: { _ in })
        pipeline.onJourney = { replayed.append($0) }
        try pipeline.read(MemorySource(name: "saved", bytes: saved.bytes))
        _ = pipeline.finish()
        let again = try #require(replayed.first { $0.netns == path }, "\(replayed.map(\.netns))")
        #expect(again.links == journey.links)
        #expect(again.legs.map(\.hooks) == journey.legs.map(\.hooks))
        #expect(again.legs.flatMap(\.nat).map(\.after) == journey.legs.flatMap(\.nat).map(\.after))
    }
}

/// `--save` lines gathered in memory from the trace's thread.
final class SavedLines: @unchecked Sendable {
    private let lock = NSLock()
    private let writer = JSONWriter(capacity: 4096)
    private var data: [UInt8] = []

    func add(_ event: TraceEvent) {
        lock.withLock {
            writer.removeAll()
            SavedEvents.write(event, to: writer)
            data += writer.bytes
        }
    }

    var bytes: [UInt8] { lock.withLock { data } }
}
#endif
