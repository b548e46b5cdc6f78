/// The ways a frame or packet goes through the bridge hooks and the IP hooks of one namespace, in the
/// kernel's order: what lets a walk hold a frame's ebtables steps beside its iptables steps.
///
/// A frame that enters on a bridge port meets the bridge PREROUTING hook (broute at `NF_BR_PRI_FIRST`,
/// ebtables nat at −300), where br_netfilter (`br_nf_pre_routing`, priority 0) runs the IP PREROUTING
/// hook for an IP frame when `bridge-nf-call-iptables` is on (net/bridge/br_netfilter_hooks.c). The bridge
/// then either passes it up (`br_pass_frame_up`: bridge INPUT, then the IP stack, whose PREROUTING
/// `ip_sabotage_in` skips when br_netfilter already ran it) or forwards it (`__br_forward`: bridge
/// FORWARD, where br_netfilter runs IP FORWARD at priority 0; `br_forward_finish`: bridge POSTROUTING,
/// ebtables nat at 300, then br_netfilter's IP POSTROUTING at `NF_BR_PRI_LAST`). A group-addressed
/// frame is flooded to the ports first and passed up after (`br_handle_frame_finish`). A packet the
/// host routes or sends out through a bridge device goes through the IP hooks first, then `br_dev_xmit`
/// sends it as a local frame: bridge OUTPUT (ebtables nat at 100, filter at 200), bridge POSTROUTING;
/// br_netfilter does not run IP POSTROUTING again for it (`br_nf_post_routing` needs a bridged frame).
public enum FramePaths {
    /// A hook of one layer.
    public struct Stage: Sendable, Hashable {
        public var layer: Netfilter.Layer
        public var hook: Hook

        @inline(__always) public init(_ layer: Netfilter.Layer, _ hook: Hook) {
            self.layer = layer
            // broute runs at the bridge PREROUTING hook (since Linux 5.3, at NF_BR_PRI_FIRST).
            self.hook = layer == .bridge && hook == .brouting ? .prerouting : hook
        }

        /// Field by field, inlined: the stitcher compares stages for every candidate of every event.
        @inline(__always) public static func == (a: Stage, b: Stage) -> Bool {
            a.layer == b.layer && a.hook == b.hook
        }

        /// Distinct stages: the layers times the hooks.
        static let count = 12

        /// A small number per stage, for the tables of `FramePaths`.
        @inline(__always) var code: Int {
            let h: Int
            switch hook {
            case .prerouting: h = 0
            case .input: h = 1
            case .forward: h = 2
            case .output: h = 3
            case .postrouting: h = 4
            case .brouting: h = 5
            }
            return layer == .bridge ? h &+ 6 : h
        }
    }

    static let bPre = Stage(.bridge, .prerouting)
    static let bIn = Stage(.bridge, .input)
    static let bFwd = Stage(.bridge, .forward)
    static let bOut = Stage(.bridge, .output)
    static let bPost = Stage(.bridge, .postrouting)
    static let iPre = Stage(.ip, .prerouting)
    static let iIn = Stage(.ip, .input)
    static let iFwd = Stage(.ip, .forward)
    static let iOut = Stage(.ip, .output)
    static let iPost = Stage(.ip, .postrouting)

    /// Every way through the hooks, each in the kernel's order. A walk's stages must appear in this
    /// order in one of them; stages a trace does not show may be missing.
    public static let all: [[Stage]] = [
        // In on a port, bridged to another port (br_netfilter runs the IP hooks for an IP frame); a
        // group-addressed frame is then passed up to the host too.
        [bPre, iPre, bFwd, iFwd, bPost, iPost, bIn, iIn],
        // In on a port, to the host, with br_netfilter: IP PREROUTING ran at the bridge PREROUTING hook.
        [bPre, iPre, bIn, iIn],
        // Without br_netfilter (or a non-IP frame): the IP stack sees the frame after bridge INPUT.
        [bPre, bIn, iPre, iIn],
        // Routed by the host (in on a bridge port or any device), out through any device or a bridge.
        [bPre, iPre, bIn, iFwd, iPost, bOut, bPost],
        [bPre, bIn, iPre, iFwd, iPost, bOut, bPost],
        // Sent by the host, out through any device or a bridge.
        [iOut, iPost, bOut, bPost],
    ]

    /// Bit i: `all[i]` has the stage (indexed by `Stage.code`).
    static let through: [UInt8] = (0..<Stage.count).map { code in
        var mask: UInt8 = 0
        for (i, path) in all.enumerated() where path.contains(where: { $0.code == code }) { mask |= 1 << UInt8(i) }
        return mask
    }

    /// Bit i: on `all[i]`, stage `to` comes after stage `from` (indexed by `from.code * Stage.count +
    /// to.code`). Tables instead of searching the paths: the stitcher asks for every candidate of every
    /// event (issue 10's replay benchmark).
    static let later: [UInt8] = (0..<Stage.count * Stage.count).map { pair in
        let (from, to) = pair.quotientAndRemainder(dividingBy: Stage.count)
        var mask: UInt8 = 0
        for (i, path) in all.enumerated() {
            guard let here = path.firstIndex(where: { $0.code == from }),
                let there = path.firstIndex(where: { $0.code == to }), there > here
            else { continue }
            mask |= 1 << UInt8(i)
        }
        return mask
    }

    /// The set of paths a walk can still be on, and where it is on them.
    public struct Progress: Sendable, Equatable {
        /// Bit i: `all[i]` fits every stage so far.
        public var paths: UInt8
        public var stage: Stage

        /// The paths through `stage`, standing at it.
        public init?(at stage: Stage) {
            let mask = FramePaths.through[stage.code]
            guard mask != 0 else { return nil }
            paths = mask
            self.stage = stage
        }

        /// The progress after moving on to `next` (the same stage again, or one later on a path still
        /// open); nil when no path has `next` after the current stage.
        @inline(__always) public func advanced(to next: Stage) -> Progress? {
            if next == stage { return self }
            let mask = paths & FramePaths.later[stage.code &* Stage.count &+ next.code]
            guard mask != 0 else { return nil }
            return Progress(paths: mask, stage: next)
        }

        /// The progress of a copy of a flooded frame: the bridge sends a clone out of each port in turn,
        /// each through bridge FORWARD (or OUTPUT for a local frame) and POSTROUTING, so after one copy
        /// left, the next copy starts over at that stage.
        public func floodCopy(at next: Stage) -> Progress? {
            guard next == FramePaths.bFwd || next == FramePaths.bOut,
                stage == FramePaths.bPost || stage == FramePaths.iPost
            else { return nil }
            let mask = paths & FramePaths.later[next.code &* Stage.count &+ stage.code]
            guard mask != 0 else { return nil }
            return Progress(paths: mask, stage: next)
        }

        init(paths: UInt8, stage: Stage) {
            self.paths = paths
            self.stage = stage
        }
    }

    /// The stages where a frame's walk can begin: it enters on a port or a device, or the host sends it
    /// (a frame the host's own bridge device sends, such as its ARP, starts at bridge OUTPUT).
    /// By the hook alone (both layers' PREROUTING and OUTPUT): comparing with the stored stages
    /// cost a lazy global's check each, for every walk started (callgrind on bench-out/t10.log).
    @inline(__always) public static func isEntry(_ stage: Stage) -> Bool {
        stage.hook == .prerouting || stage.hook == .output
    }

    /// Bridge stages after which the frame has left the bridge's hooks: out of a port, or up to the host.
    public static func isFinal(_ stage: Stage) -> Bool {
        stage.layer == .bridge ? (stage.hook == .postrouting || stage.hook == .input) : Netfilter.isFinal(stage.hook)
    }

    /// The IP position equivalent to a bridge one, for the question of which NAT a packet passed:
    /// bridge PREROUTING runs before the IP hooks, bridge INPUT and FORWARD after IP PREROUTING (its
    /// destination NAT applied), bridge OUTPUT and POSTROUTING after IP POSTROUTING of a routed or local
    /// packet (its source NAT applied).
    public static func ipEquivalent(_ position: HookPosition) -> HookPosition {
        guard position.layer == .bridge else { return position }
        switch position.hook {
        case .prerouting, .brouting: return HookPosition(hook: .prerouting, priority: Int(Int32.min))
        case .input, .forward: return HookPosition(hook: .forward, priority: Int(Int32.min))
        case .output, .postrouting: return HookPosition(hook: .postrouting, priority: Int(Int32.max))
        }
    }
}

extension Netfilter {
    /// Priority of an ebtables table at a bridge hook (`NF_BR_PRI_*`, as net/bridge/netfilter/ebtable_*.c
    /// register them); nil if the table does not run there. ebtables-nft registers the same, except
    /// filter OUTPUT, which it puts at nft's bridge `filter` priority, −200.
    public static func bridgePriority(table: String, hook: Hook) -> Int? {
        switch (table, hook) {
        case ("broute", .brouting), ("broute", .prerouting): return BridgePriority.first
        case ("nat", .prerouting): return BridgePriority.natDstBridged
        case ("filter", .input), ("filter", .forward): return BridgePriority.filterBridged
        case ("nat", .output): return BridgePriority.natDstOther
        case ("filter", .output): return BridgePriority.filterOther
        case ("nat", .postrouting): return BridgePriority.natSrc
        default: return nil
        }
    }
}

extension FramePaths {
    /// Whether a packet moving from `from` to `to` was routed in between (`ip_forward` lowers the TTL
    /// before IP FORWARD): it was on its way in, and is now at or after IP FORWARD of a routed packet.
    public static func crossesForwarding(from: Stage, to: Stage) -> Bool {
        let before = from == bPre || from == iPre || from == bIn
        let after = to == iFwd || to == iPost || to == bOut || to == bPost
        return before && after
    }
}
