#if os(Linux)
import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import PathTraceRender
import TestSupport
import Testing

/// A bridge with br_netfilter and ebtables LOG rules, traced live with iptables TRACE: each frame's
/// ebtables steps and its IP steps are one walk, in the kernel's hook order.
@Suite(.serialized, .offPool, .enabled(if: Live.available, "needs root, CAP_NET_ADMIN, iproute2, iptables, nftables"))
struct BridgeLabTests {
    /// Where a recording run (`PT_RECORD_BRIDGE=1`) writes the events it traced.
    static let capture = "captures/bridge-ebtables-brnf.events.jsonl"

    @Test func ebtablesAndTraceStepsOfAFrameAreOneWalk() throws {
        let spec = try Fixtures.lab(
            "bridge-ebtables-brnf", prefix: "ptbe\(getpid() % 100_000)\(LiveLab.letters(Live.next()))")
        let saved = SavedLines()
        var run = LabRun(spec: spec, backend: .legacy)
        run.settle = 1
        run.onEvent = saved.add
        let result = try run.run(onWalk: { _ in })
        #expect(LabBuilder(spec: spec).existingNamespaces().isEmpty)
        #expect(result.summary.cleanlyRemoved)
        #expect(result.problems == [])

        // vm1's datagram to vm2 crosses the bridge: one walk, bridge and IP steps in kernel order.
        let udp = try #require(result.walks.first { $0.firstHeader?.dport == 5001 })
        #expect(udp.path == .bridged)
        #expect(udp.family == .ipv4)
        #expect(
            udp.stepNames == [
                "bridge broute:BROUTING", "bridge nat:PREROUTING", "raw:PREROUTING", "LOG", "raw:PREROUTING",
                "nat:PREROUTING", "bridge filter:FORWARD", "filter:FORWARD", "bridge nat:POSTROUTING",
                "nat:POSTROUTING",
            ])
        // The NFLOG rule in raw PREROUTING: its record is a step of the packet it logged.
        #expect(udp.steps.first { $0.event.kind == .log && $0.event.family != .bridge }?.event.prefix == "pt-udp")

        // The SYN to 223.5.5.5 enters on the bridge and is routed out ens160, MASQUERADEd.
        let syn = try #require(result.walks.first { $0.firstHeader?.dport == 80 && $0.firstHeader?.tcpFlags == .syn })
        #expect(syn.path == .forward)
        #expect(
            syn.stepNames == [
                "bridge broute:BROUTING", "bridge nat:PREROUTING", "raw:PREROUTING", "nat:PREROUTING",
                "bridge filter:INPUT", "filter:FORWARD", "nat:POSTROUTING",
            ])
        let masquerade = try #require(syn.nat.first { $0.field == "src" })
        #expect(masquerade.type == .masquerade)
        #expect(masquerade.after == "10.180.13.232:43020")

        // Its answer is routed to br0 and leaves as a local frame: bridge OUTPUT, then POSTROUTING
        // (ebtables-nft's filter OUTPUT runs at −200, before nat OUTPUT at 100).
        let synAck = try #require(
            result.walks.first { $0.firstHeader?.sport == 80 && $0.firstHeader?.tcpFlags == [.syn, .ack] })
        #expect(synAck.replyTo == syn.packet)
        #expect(
            synAck.stepNames == [
                "raw:PREROUTING", "filter:FORWARD", "bridge filter:OUTPUT", "bridge nat:OUTPUT",
                "bridge nat:POSTROUTING",
            ])
        #expect(synAck.steps.last?.event.family == .bridge)

        // Replayed without a filter, the saved events hold the ARP exchange: frames that only cross
        // the bridge (br_netfilter hands only IP to iptables), each one walk.
        var walks: [PacketWalk] = []
        var pipeline = ReplayPipeline(emit: { walks.append($0) })
        try pipeline.read(MemorySource(name: "saved", bytes: saved.bytes))
        _ = pipeline.finish()
        let arp = walks.filter { $0.family == .bridge && $0.firstHeader?.macProto == 0x0806 }
        let request = try #require(arp.first { $0.firstHeader?.macDst == "ff:ff:ff:ff:ff:ff" })
        #expect(request.path == .bridged)
        #expect(
            request.stepNames == [
                "bridge broute:BROUTING", "bridge nat:PREROUTING", "bridge filter:FORWARD", "bridge nat:POSTROUTING",
                "bridge filter:INPUT",
            ])
        #expect(walks.filter { $0.firstHeader?.dport == 5001 }.map(\.stepNames) == [udp.stepNames])

        if ProcessInfo.processInfo.environment["PT_RECORD_BRIDGE"] == "1" {
            try Data(saved.bytes).write(to: Fixtures.url(Self.capture))
        }
    }
}
#endif
