/// Which tables (legacy) or base chains (nft) printed at each hook anywhere in the input.
///
/// A table that is not loaded prints nothing, and nat prints only for a connection's first packet,
/// so a walk that falls silent is a drop only if something would have printed after it.
///
/// Its fields skip dynamic exclusivity checks: it is used from one thread, one call at a time.
final class Visibility {
    @exclusivity(unchecked) private var units: [Hook: [String: Bool]] = [:]
    /// The last few units noted at each hook with their flag, checked before hashing into `units`:
    /// every event notes its unit, and most notes change nothing.
    @exclusivity(unchecked) private var recent: [[(unit: String, nat: Bool)]] = Array(
        repeating: [], count: Hook.allCases.count)
    private static let recentLimit = 8
    /// Units remembered per hook. A ruleset has a handful per hook; past this the input is not a trace
    /// (table names from garbled lines, scripts/bench-replay.sh's mutated lines) and later names are
    /// not kept, so memory stays bounded.
    private static let unitLimit = 1024

    /// Records that `unit` printed at `hook`; `nat` marks a unit that only a first packet reaches.
    func note(_ unit: String, at hook: Hook, nat: Bool) {
        let h = Visibility.index(hook)
        for k in recent[h].indices where recent[h][k].unit == unit {
            if recent[h][k].nat || !nat { return }
            recent[h][k].nat = nat
            break
        }
        if let known = units[hook]?[unit], known || !nat {
            remember(unit, known, at: h)
            return
        }
        if units[hook]?[unit] == nil, units[hook]?.count ?? 0 >= Visibility.unitLimit { return }
        units[hook, default: [:]][unit] = nat
        remember(unit, nat, at: h)
    }

    /// Whether nothing would print at any hook after `hook` (nat units count only if nat ran for this packet).
    func nothingPrints(after hook: Hook, natRan: Bool) -> Bool {
        for later in Netfilter.laterHooks(after: hook) {
            for (_, isNat) in units[later] ?? [:] where !isNat || natRan { return false }
        }
        return true
    }

    private func remember(_ unit: String, _ nat: Bool, at h: Int) {
        if let k = recent[h].firstIndex(where: { $0.unit == unit }) {
            recent[h][k].nat = nat
        } else {
            if recent[h].count >= Visibility.recentLimit { recent[h].removeFirst() }
            recent[h].append((unit, nat))
        }
    }

    private static func index(_ hook: Hook) -> Int {
        switch hook {
        case .prerouting: return 0
        case .input: return 1
        case .forward: return 2
        case .output: return 3
        case .postrouting: return 4
        case .brouting: return 5
        }
    }
}
