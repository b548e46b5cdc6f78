import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import Testing

/// Several nft base chains on one hook, traced live in a `ptl…` router namespace: an `accept` ends only
/// its own base chain, so a later base chain on the same hook still decides (issue 8 §1).
@Suite(.serialized, .enabled(if: Live.available, "needs root, CAP_NET_ADMIN, iproute2, iptables, nftables"))
struct LiveBaseChainTests {
    /// Two base chains on input: `first` accepts port 8080, `second` (later priority) drops by policy.
    static let twoInputChains = """
        table inet ptjoin {
            chain first { type filter hook input priority filter; policy accept; tcp dport 8080 accept; }
            chain second { type filter hook input priority filter + 10; policy drop; }
        }

        """

    static func label(_ step: WalkStep) -> String { "\(step.event.table):\(step.event.chain)" }

    @Test(.liveLab) func acceptInOneBaseChainThenPolicyDropInTheNextIsADrop() throws {
        let lab = try #require(LiveLabTrait.current)
        let r = lab.router
        try Live.run(["nft", "-f", "-"], in: r, stdin: Self.twoInputChains)

        var filter = WalkFilter()
        filter.proto = IPProtocol.tcp
        filter.dport = PortRange("8080")
        let target = LiveTrace.Target.deciding(.named(r), requested: .nft, filter: filter)
        var configuration = LiveTrace.Configuration(targets: [target], filter: filter, rate: .default, duration: 20)
        configuration.recordSessions = false
        configuration.probeTopology = false
        let trace = LiveTrace(configuration)
        trace.onReady = { trace in
            // A SYN to the router itself: its INPUT hook runs both chains; the second's policy drops it.
            _ = try? Live.run(
                ["timeout", "1", "bash", "-c", "exec 3<>/dev/tcp/\(LiveLab.routerInside)/8080"], in: lab.client)
            Thread.sleep(forTimeInterval: 0.5)
            trace.stop()
        }
        var walks: [PacketWalk] = []
        let summary = try trace.run { walks.append($0) }
        #expect(summary.cleanlyRemoved)

        let syn = try #require(
            walks.first { $0.steps.first?.event.header?.tcpFlags == .syn }, "\(walks.map { $0.steps.map(Self.label) })")
        let chains = syn.steps.map(Self.label)
        let first = try #require(chains.firstIndex(of: "ptjoin:first"), "\(chains)")
        let second = try #require(chains.lastIndex(of: "ptjoin:second"), "\(chains)")
        #expect(first < second)
        #expect(syn.steps[first].hook == .input && syn.steps[second].hook == .input)
        #expect(syn.steps[first].verdict == .accept)
        #expect(syn.steps[second].event.kind == .policy && syn.steps[second].verdict == .drop)
        #expect(syn.path == .input)
        #expect(syn.verdict == .drop)
        // The retransmitted SYNs are walks of their own, each dropped the same way: never joined to the first.
        #expect(walks.allSatisfy { $0.verdict == .drop })
    }
}
