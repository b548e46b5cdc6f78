import PathTraceCore
import Testing

/// The hook entries are the kernel's: `enum nf_ip_hook_priorities` and `enum nf_br_hook_priorities`.
@Suite struct NetfilterTests {
    func entries(_ hook: Hook, _ layer: Netfilter.Layer) -> [String] {
        Netfilter.entries(at: hook, layer: layer).map { e in
            let name = e.kind == .conntrackConfirm ? "confirm" : e.name + (e.natRole.map { "(\($0))" } ?? "")
            return "\(name) \(e.priority)"
        }
    }

    @Test func ipHooksInPriorityOrder() {
        let max = Int(Int32.max)
        #expect(entries(.prerouting, .ip) == ["raw -300", "conntrack -200", "mangle -150", "nat(dst) -100"])
        #expect(entries(.input, .ip) == ["mangle -150", "filter 0", "security 50", "nat(src) 100", "confirm \(max)"])
        #expect(entries(.forward, .ip) == ["mangle -150", "filter 0", "security 50"])
        #expect(
            entries(.output, .ip) == [
                "raw -300", "conntrack -200", "mangle -150", "nat(dst) -100", "filter 0", "security 50",
            ])
        #expect(entries(.postrouting, .ip) == ["mangle -150", "nat(src) 100", "confirm \(max)"])
    }

    @Test func bridgeHooksAndBrNetfilter() {
        let (min, max) = (Int(Int32.min), Int(Int32.max))
        #expect(entries(.prerouting, .bridge) == ["broute \(min)", "nat(dst) -300", "br_netfilter 0"])
        #expect(entries(.brouting, .bridge) == entries(.prerouting, .bridge))
        #expect(entries(.input, .bridge) == ["filter -200"])
        #expect(entries(.forward, .bridge) == ["filter -200", "br_netfilter 0"])
        #expect(entries(.output, .bridge) == ["nat(dst) 100", "filter 200"])
        #expect(entries(.postrouting, .bridge) == ["nat(src) 300", "br_netfilter \(max)"])
        #expect(Netfilter.brNetfilterHandOff(from: .prerouting) == .prerouting)
        #expect(Netfilter.brNetfilterHandOff(from: .forward) == .forward)
        #expect(Netfilter.brNetfilterHandOff(from: .postrouting) == .postrouting)
        #expect(Netfilter.brNetfilterHandOff(from: .input) == nil)
    }

    @Test func tableEntriesAgreeWithTheStitchersPriorities() {
        for hook in Hook.allCases {
            for e in Netfilter.entries(at: hook, layer: .ip) where e.kind == .table {
                #expect(Netfilter.priority(table: e.name, hook: hook) == e.priority)
            }
        }
    }
}

/// The ways a frame goes through the bridge and IP hooks (net/bridge/br_input.c, br_forward.c,
/// br_netfilter_hooks.c): which stage may follow which.
@Suite struct FramePathsTests {
    typealias Stage = FramePaths.Stage

    /// Follows `stages` from the first; nil when one cannot follow the one before.
    static func walk(_ stages: [(Netfilter.Layer, Hook)]) -> FramePaths.Progress? {
        guard let first = stages.first, var p = FramePaths.Progress(at: Stage(first.0, first.1)) else { return nil }
        for (layer, hook) in stages.dropFirst() {
            guard let next = p.advanced(to: Stage(layer, hook)) else { return nil }
            p = next
        }
        return p
    }

    @Test func bridgedRoutedAndLocalFramesFollowTheKernel() {
        // Bridged with br_netfilter: IP POSTROUTING after the bridge's, at NF_BR_PRI_LAST.
        #expect(
            Self.walk([
                (.bridge, .brouting), (.bridge, .prerouting), (.ip, .prerouting), (.bridge, .forward), (.ip, .forward),
                (.bridge, .postrouting), (.ip, .postrouting),
            ]) != nil)
        // In on a port, routed by the host: bridge INPUT after IP PREROUTING (br_netfilter), then IP FORWARD.
        #expect(
            Self.walk([
                (.bridge, .prerouting), (.ip, .prerouting), (.bridge, .input), (.ip, .forward), (.ip, .postrouting),
            ])
                != nil)
        // Without br_netfilter the IP stack sees the frame after bridge INPUT.
        #expect(Self.walk([(.bridge, .prerouting), (.bridge, .input), (.ip, .prerouting), (.ip, .input)]) != nil)
        // Routed or sent out a bridge device: IP POSTROUTING, then bridge OUTPUT and POSTROUTING.
        #expect(Self.walk([(.ip, .output), (.ip, .postrouting), (.bridge, .output), (.bridge, .postrouting)]) != nil)
        #expect(Self.walk([(.ip, .prerouting), (.ip, .forward), (.ip, .postrouting), (.bridge, .output)]) != nil)
        // Not the kernel's: a bridged frame never meets bridge OUTPUT, a local frame no IP POSTROUTING after
        // the bridge's, and IP PREROUTING does not run twice around bridge INPUT.
        #expect(Self.walk([(.bridge, .forward), (.bridge, .output)]) == nil)
        #expect(Self.walk([(.ip, .output), (.bridge, .output), (.bridge, .postrouting), (.ip, .postrouting)]) == nil)
        #expect(Self.walk([(.bridge, .postrouting), (.bridge, .forward)]) == nil)
    }

    @Test func aFloodedCopyStartsOverAtTheBridgesEgress() throws {
        let sent = try #require(
            Self.walk([(.ip, .output), (.ip, .postrouting), (.bridge, .output), (.bridge, .postrouting)]))
        #expect(sent.advanced(to: Stage(.bridge, .output)) == nil)
        #expect(sent.floodCopy(at: Stage(.bridge, .output))?.stage == Stage(.bridge, .output))
        let bridged = try #require(Self.walk([(.bridge, .prerouting), (.bridge, .forward), (.bridge, .postrouting)]))
        #expect(bridged.floodCopy(at: Stage(.bridge, .forward)) != nil)
        #expect(bridged.floodCopy(at: Stage(.bridge, .prerouting)) == nil)
    }

    @Test func natAndForwardingAcrossLayers() {
        let bPre = HookPosition(hook: .prerouting, priority: Netfilter.BridgePriority.natDstBridged, layer: .bridge)
        let iPre = HookPosition(hook: .prerouting, priority: -300)
        let bFwd = HookPosition(hook: .forward, priority: Netfilter.BridgePriority.filterBridged, layer: .bridge)
        let iPost = HookPosition(hook: .postrouting, priority: -150)
        let bOut = HookPosition(hook: .output, priority: Netfilter.BridgePriority.natDstOther, layer: .bridge)
        // DNAT runs at IP PREROUTING −100: after the bridge's PREROUTING, before its FORWARD.
        #expect(!bPre.crossesDstNat(to: iPre))
        #expect(iPre.crossesDstNat(to: bFwd))
        // SNAT at IP POSTROUTING 100 comes before a routed packet's bridge OUTPUT.
        #expect(iPost.crossesSrcNat(to: bOut))
        #expect(FramePaths.crossesForwarding(from: iPre.stage, to: bOut.stage))
        #expect(!FramePaths.crossesForwarding(from: bFwd.stage, to: Stage(.ip, .forward)))
        // ebtables' own priorities (NF_BR_PRI_*).
        #expect(Netfilter.bridgePriority(table: "broute", hook: .brouting) == Int(Int32.min))
        #expect(Netfilter.bridgePriority(table: "nat", hook: .postrouting) == 300)
        #expect(Netfilter.bridgePriority(table: "filter", hook: .prerouting) == nil)
    }
}
