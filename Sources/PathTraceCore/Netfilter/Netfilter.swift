/// The hook/table/priority model of netfilter that the stitcher and the teaching view share.
///
/// Numbers are the kernel's (`enum nf_ip_hook_priorities`); IPv6 uses the same ones.
public enum Netfilter {
    /// Priority of an iptables table (or an nft chain named after one) at a hook; nil if the table does not run there.
    public static func priority(table: String, hook: Hook) -> Int? {
        guard let k = NameTable.wellKnown.firstIndex(of: table) else { return nil }
        return priority(table: Name(id: UInt32(k + 1)), hook: hook)
    }

    /// The same for a table's name: compared by id, as every step asks.
    public static func priority(table: Name, hook: Hook) -> Int? {
        // On the ids of `Name.raw` ... `Name.security` (1 to 5): matching the names as enum patterns
        // cost 60 instructions per event.
        guard let id = table.tableID else { return nil }
        return priority(tableID: id, hook: hook)
    }

    /// The same for a name table id (`Name.raw` ... `Name.security` are 1 to 5).
    @inline(__always) static func priority(tableID id: UInt32, hook: Hook) -> Int? {
        switch (id, hook) {
        case (1, .prerouting), (1, .output): return -300
        case (2, .prerouting), (2, .input), (2, .forward), (2, .output), (2, .postrouting): return -150
        case (3, .prerouting), (3, .output): return -100
        case (4, .input), (4, .forward), (4, .output): return 0
        case (5, .input), (5, .forward), (5, .output): return 50
        case (3, .postrouting), (3, .input): return 100
        default: return nil
        }
    }

    /// Parses an nft priority: a number, a keyword (`raw`, `mangle`, `dstnat`, `filter`, `security`,
    /// `srcnat`), or a keyword plus or minus a number (`raw - 1`).
    public static func priority(nft text: String) -> Int? {
        let words = text.split(separator: " ").map(String.init)
        guard let first = words.first else { return nil }
        let keywords = ["raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100]
        var value: Int
        if let k = keywords[first] {
            value = k
        } else if let n = Int(first) {
            value = n
        } else {
            return nil
        }
        if words.count == 3, let n = Int(words[2]) { value += words[1] == "-" ? -n : n }
        return value
    }

    /// The iptables tables at each hook, in the order a packet meets them.
    public static func tables(at hook: Hook) -> [String] {
        switch hook {
        case .prerouting: return ["raw", "mangle", "nat"]
        case .input: return ["mangle", "filter", "security", "nat"]
        case .forward: return ["mangle", "filter", "security"]
        case .output: return ["raw", "mangle", "nat", "filter", "security"]
        case .postrouting: return ["mangle", "nat"]
        case .brouting: return []
        }
    }

    /// Priority at which conntrack applies destination NAT (and de-NATs replies' destinations).
    public static let dstNatPriority = -100
    /// Priority at which conntrack applies source NAT.
    public static let srcNatPriority = 100

    /// The hooks a packet can reach after `hook` (directly or with intermediate hooks unobserved).
    public static func laterHooks(after hook: Hook) -> [Hook] {
        switch hook {
        case .brouting: return [.prerouting, .input, .forward, .postrouting]
        case .prerouting: return [.input, .forward, .postrouting]
        case .forward: return [.postrouting]
        case .output: return [.postrouting]
        case .input, .postrouting: return []
        }
    }

    /// Whether `laterHooks(after: previous)` contains `hook` (without building the list).
    public static func isLater(_ hook: Hook, than previous: Hook) -> Bool {
        switch previous {
        case .brouting: return hook == .prerouting || hook == .input || hook == .forward || hook == .postrouting
        case .prerouting: return hook == .input || hook == .forward || hook == .postrouting
        case .forward, .output: return hook == .postrouting
        case .input, .postrouting: return false
        }
    }

    /// The hooks where a packet leaves netfilter's last hook on its path.
    public static func isFinal(_ hook: Hook) -> Bool { hook == .input || hook == .postrouting }

    /// The hooks where a walk can begin (a packet enters, or a local socket sends).
    public static func isEntry(_ hook: Hook) -> Bool { hook == .prerouting || hook == .output || hook == .brouting }

    /// Rank of a hook along the paths, so positions can be compared.
    public static func rank(_ hook: Hook) -> Int {
        switch hook {
        case .brouting: return 0
        case .prerouting, .output: return 1
        case .input, .forward: return 2
        case .postrouting: return 3
        }
    }
}

/// Where in netfilter a step ran: hook and priority, comparable along one path.
public struct HookPosition: Sendable, Equatable, Comparable {
    public var hook: Hook
    public var priority: Int
    /// The bridge hooks (ebtables, nft bridge tables) or the IP hooks.
    public var layer: Netfilter.Layer

    public init(hook: Hook, priority: Int, layer: Netfilter.Layer = .ip) {
        self.hook = hook
        self.priority = priority
        self.layer = layer
    }

    /// The hook and layer, as the frame paths name them.
    @inline(__always) public var stage: FramePaths.Stage { FramePaths.Stage(layer, hook) }

    public static func < (a: HookPosition, b: HookPosition) -> Bool {
        let ra = Netfilter.rank(a.hook)
        let rb = Netfilter.rank(b.hook)
        return ra != rb ? ra < rb : a.priority < b.priority
    }

    /// Whether a packet moving from `self` to `later` passed conntrack's destination-NAT point.
    public func crossesDstNat(to later: HookPosition) -> Bool {
        if layer == .bridge || later.layer == .bridge {
            return FramePaths.ipEquivalent(self).crossesDstNat(to: FramePaths.ipEquivalent(later))
        }
        switch hook {
        case .prerouting, .output:
            // Leaving the hook always passes its NAT point: nft chains' priorities are often unknown.
            if later.hook != hook { return true }
            return priority <= Netfilter.dstNatPriority && later.priority > Netfilter.dstNatPriority
        case .brouting: return true
        default: return false
        }
    }

    /// Whether a packet moving from `self` to `later` passed conntrack's source-NAT point.
    public func crossesSrcNat(to later: HookPosition) -> Bool {
        if layer == .bridge || later.layer == .bridge {
            return FramePaths.ipEquivalent(self).crossesSrcNat(to: FramePaths.ipEquivalent(later))
        }
        guard later.hook == .postrouting || later.hook == .input else { return false }
        if later.hook != hook { return later.priority > Netfilter.srcNatPriority }
        return priority <= Netfilter.srcNatPriority && later.priority > Netfilter.srcNatPriority
    }
}

/// The functions the kernel registers at each hook, for the teaching diagram (`pathtrace flow`).
///
/// IP priorities are `enum nf_ip_hook_priorities` (include/uapi/linux/netfilter_ipv4.h; IPv6's enum in
/// netfilter_ipv6.h has the same values). Bridge priorities are `enum nf_br_hook_priorities`
/// (include/uapi/linux/netfilter_bridge.h), with the ebtables tables registered as in
/// net/bridge/netfilter/ebtable_{broute,nat,filter}.c and br_netfilter as in br_netfilter_hooks.c.
extension Netfilter {
    /// `NF_IP_PRI_*`.
    public enum IPPriority {
        public static let raw = -300
        public static let conntrack = -200
        public static let mangle = -150
        public static let natDst = -100
        public static let filter = 0
        public static let security = 50
        public static let natSrc = 100
        /// `NF_IP_PRI_CONNTRACK_CONFIRM = INT_MAX`.
        public static let conntrackConfirm = Int(Int32.max)
    }

    /// `NF_BR_PRI_*`.
    public enum BridgePriority {
        /// `NF_BR_PRI_FIRST = INT_MIN`: the ebtables broute table (a bridge PREROUTING hook since Linux 5.3).
        public static let first = Int(Int32.min)
        public static let natDstBridged = -300
        public static let filterBridged = -200
        /// br_netfilter: where bridged IP frames are handed to the IP hooks.
        public static let brNetfilter = 0
        public static let natDstOther = 100
        public static let filterOther = 200
        public static let natSrc = 300
        /// `NF_BR_PRI_LAST = INT_MAX`: br_netfilter's POSTROUTING hand-off.
        public static let last = Int(Int32.max)
    }

    /// Which hook family a hook belongs to: the IP hooks (ipv4, ipv6, nft inet) or the bridge hooks.
    public enum Layer: String, Sendable, Hashable {
        case ip, bridge
    }

    /// One function registered at a hook: a table, conntrack, or br_netfilter's hand-off.
    public struct HookEntry: Sendable, Equatable {
        /// What the kernel runs at this priority.
        public enum Kind: String, Sendable, Hashable {
            /// An iptables/ebtables table (or an nft base chain at the same priority).
            case table
            /// Conntrack looks the packet up (or starts a new connection).
            case conntrack
            /// Conntrack confirms a new connection: it enters the table only now.
            case conntrackConfirm
            /// br_netfilter runs the IP hooks for a bridged IP frame (`bridge-nf-call-iptables`).
            case brNetfilter
        }

        /// `raw`, `nat`, `broute`, `conntrack`, `br_netfilter`.
        public var name: String
        public var kind: Kind
        public var priority: Int
        /// nat's role at this hook: `dst` (before routing) or `src` (after it); nil for other entries.
        public var natRole: String?

        public init(name: String, kind: Kind, priority: Int, natRole: String? = nil) {
            self.name = name
            self.kind = kind
            self.priority = priority
            self.natRole = natRole
        }
    }

    /// The entries at a hook, in the order the kernel calls them (ascending priority).
    public static func entries(at hook: Hook, layer: Layer) -> [HookEntry] {
        var out: [HookEntry] = []
        switch layer {
        case .ip:
            for table in tables(at: hook) {
                guard let p = priority(table: table, hook: hook) else { continue }
                let role = table == "nat" ? (p == dstNatPriority ? "dst" : "src") : nil
                out.append(HookEntry(name: table, kind: .table, priority: p, natRole: role))
            }
            if hook == .prerouting || hook == .output {
                out.append(HookEntry(name: "conntrack", kind: .conntrack, priority: IPPriority.conntrack))
            }
            if hook == .input || hook == .postrouting {
                out.append(
                    HookEntry(name: "conntrack", kind: .conntrackConfirm, priority: IPPriority.conntrackConfirm))
            }
        case .bridge:
            switch hook {
            case .prerouting, .brouting:
                out.append(HookEntry(name: "broute", kind: .table, priority: BridgePriority.first))
                out.append(
                    HookEntry(name: "nat", kind: .table, priority: BridgePriority.natDstBridged, natRole: "dst"))
                out.append(HookEntry(name: "br_netfilter", kind: .brNetfilter, priority: BridgePriority.brNetfilter))
            case .input:
                out.append(HookEntry(name: "filter", kind: .table, priority: BridgePriority.filterBridged))
            case .forward:
                out.append(HookEntry(name: "filter", kind: .table, priority: BridgePriority.filterBridged))
                out.append(HookEntry(name: "br_netfilter", kind: .brNetfilter, priority: BridgePriority.brNetfilter))
            case .output:
                out.append(HookEntry(name: "nat", kind: .table, priority: BridgePriority.natDstOther, natRole: "dst"))
                out.append(HookEntry(name: "filter", kind: .table, priority: BridgePriority.filterOther))
            case .postrouting:
                out.append(HookEntry(name: "nat", kind: .table, priority: BridgePriority.natSrc, natRole: "src"))
                out.append(HookEntry(name: "br_netfilter", kind: .brNetfilter, priority: BridgePriority.last))
            }
        }
        return out.sorted { $0.priority < $1.priority }
    }

    /// The IP hook br_netfilter runs from a bridge hook, when it hands bridged IP frames over there.
    public static func brNetfilterHandOff(from bridgeHook: Hook) -> Hook? {
        switch bridgeHook {
        case .prerouting: return .prerouting
        case .forward: return .forward
        case .postrouting: return .postrouting
        default: return nil
        }
    }
}
