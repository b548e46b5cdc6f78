/// The hook/table/priority model of netfilter that the stitcher and the teaching view share.
///
/// Numbers are the kernel's (`enum nf_ip_hook_priorities`); IPv6 uses the same ones.
public enum Netfilter {
    /// Priority of an iptables table (or an nft chain named after one) at a hook; nil if the table does not run there.
    public static func priority(table: String, hook: Hook) -> Int? {
        switch (table, hook) {
        case ("raw", .prerouting), ("raw", .output): return -300
        case ("mangle", .prerouting), ("mangle", .input), ("mangle", .forward), ("mangle", .output),
            ("mangle", .postrouting):
            return -150
        case ("nat", .prerouting), ("nat", .output): return -100
        case ("filter", .input), ("filter", .forward), ("filter", .output): return 0
        case ("security", .input), ("security", .forward), ("security", .output): return 50
        case ("nat", .postrouting), ("nat", .input): return 100
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

    public init(hook: Hook, priority: Int) {
        self.hook = hook
        self.priority = priority
    }

    public static func < (a: HookPosition, b: HookPosition) -> Bool {
        let ra = Netfilter.rank(a.hook)
        let rb = Netfilter.rank(b.hook)
        return ra != rb ? ra < rb : a.priority < b.priority
    }

    /// Whether a packet moving from `self` to `later` passed conntrack's destination-NAT point.
    public func crossesDstNat(to later: HookPosition) -> Bool {
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
        guard later.hook == .postrouting || later.hook == .input else { return false }
        if later.hook != hook { return later.priority > Netfilter.srcNatPriority }
        return priority <= Netfilter.srcNatPriority && later.priority > Netfilter.srcNatPriority
    }
}
