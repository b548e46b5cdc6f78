/// Which tables (legacy) or base chains (nft) printed at each hook anywhere in the input.
///
/// A table that is not loaded prints nothing, and nat prints only for a connection's first packet,
/// so a walk that falls silent is a drop only if something would have printed after it.
///
/// Its fields skip dynamic exclusivity checks: it is used from one thread, one call at a time.
final class Visibility {
    @exclusivity(unchecked) private var units: [Hook: [ChainUnit: Bool]] = [:]
    /// The last few units noted at each hook with their flag, checked before hashing into `units`:
    /// every event notes its unit, and most notes change nothing.
    @exclusivity(unchecked) private var recent: [[(unit: ChainUnit, nat: Bool)]] = Array(
        repeating: [], count: Hook.allCases.count)
    private static let recentLimit = 8
    /// Units remembered per hook. A ruleset has a handful per hook; past this the input is not a trace
    /// (table names from garbled lines, scripts/bench-replay.sh's mutated lines) and later names are
    /// not kept, so memory stays bounded.
    private static let unitLimit = 1024

    /// iptables-legacy tables seen at any hook, with their nat flag: a legacy table registers all its
    /// hooks at once, so one seen anywhere is loaded at every hook it has (iptables-nft creates base
    /// chains one by one, so its tables are not counted here). Only iptables' five tables are kept (the
    /// others have no hook priority to be a candidate with): a garbled line's table name, of which
    /// `make bench`'s mutated input brings thousands, changes nothing, and each had made every
    /// candidate list be rebuilt (12% of a 30 MB mutated replay, callgrind). Scanned, not hashed.
    @exclusivity(unchecked) private var legacyTables: [(table: Name, nat: Bool)] = []

    /// Records that `unit` printed at `hook`; `nat` marks a unit that only a first packet reaches;
    /// `legacyTable` names the iptables-legacy table when the event came from one.
    func note(_ unit: ChainUnit, at hook: Hook, nat: Bool, legacyTable: Name? = nil) {
        if let table = legacyTable, table.isIptablesTable, !legacyTables.contains(where: { $0.table == table }) {
            legacyTables.append((table, nat))
            for i in sorted.indices { sorted[i] = nil }
        }
        let h = hook.number
        for k in recent[h].indices where recent[h][k].unit == unit {
            if recent[h][k].nat || !nat { return }
            recent[h][k].nat = nat
            break
        }
        if let known = units[hook]?[unit], known || !nat {
            remember(unit, known, at: h)
            return
        }
        let isNew = units[hook]?[unit] == nil
        if isNew, units[hook]?.count ?? 0 >= Visibility.unitLimit { return }
        units[hook, default: [:]][unit] = nat
        if isNew, var list = sorted[h] {
            sorted[h] = nil  // the list's only reference: inserted in place, not copied
            Visibility.insert(Candidate(unit, nat: nat, at: hook), into: &list)
            sorted[h] = list
        } else {
            sorted[h] = nil
        }
        remember(unit, nat, at: h)
    }

    /// Whether nothing would print at any hook after `hook` (nat units count only if nat ran for this packet).
    func nothingPrints(after hook: Hook, natRan: Bool) -> Bool {
        for later in Netfilter.laterHooks(after: hook) {
            for (_, isNat) in units[later] ?? [:] where !isNat || natRan { return false }
        }
        return true
    }

    /// The table or base chain that would print next for a packet whose last step ran in `table` at
    /// `hook`: a table later at the same hook (by its fixed priority), else one at a later hook; a
    /// table counts if it printed there in this input or is a loaded legacy table that has the hook,
    /// nat only for a connection's first packet. Labelled `table:CHAIN` (nft units are already so).
    func nextPrinting(after table: Name, at hook: Hook, firstPacket: Bool) -> String? {
        func first(at hook: Hook, where accept: (Candidate) -> Bool) -> String? {
            candidates(at: hook).first { (!$0.nat || firstPacket) && accept($0) }?.label
        }
        if let mine = Netfilter.priority(table: table, hook: hook) {
            let mineLabel = "\(table):\(hook.rawValue)"
            if let next = first(at: hook, where: { $0.priority > mine && $0.label != mineLabel }) { return next }
        }
        for later in Netfilter.laterHooks(after: hook) {
            if let next = first(at: later, where: { _ in true }) { return next }
        }
        return nil
    }

    /// A table or base chain that may print at a hook, for `nextPrinting`.
    private struct Candidate {
        var priority: Int
        var label: String
        var nat: Bool

        init(priority: Int, label: String, nat: Bool) {
            self.priority = priority
            self.label = label
            self.nat = nat
        }

        init(_ unit: ChainUnit, nat: Bool, at hook: Hook) {
            label = unit.chain == nil ? "\(unit.table):\(hook.rawValue)" : unit.label
            priority = Netfilter.priority(table: unit.table, hook: hook) ?? 0
            self.nat = nat
        }

        func precedes(_ other: Candidate) -> Bool { (priority, label) < (other.priority, other.label) }
    }

    /// Puts a new unit's candidate in its place in a sorted list, unless its label is there already
    /// (a legacy table's, or a unit's that came first). Rebuilding and sorting the list instead, after
    /// each new unit, took 18% of a replay of garbled input (callgrind, 30 MB of `make bench`'s
    /// mutated lines), where every line may bring a new table name, up to `unitLimit` per hook.
    private static func insert(_ candidate: Candidate, into list: inout [Candidate]) {
        var low = 0
        var high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid].precedes(candidate) { low = mid + 1 } else { high = mid }
        }
        if low < list.count, list[low].label == candidate.label { return }
        list.insert(candidate, at: low)
    }

    /// Per hook, the legacy tables loaded there and the nft units that printed there, by priority then
    /// label; rebuilt only after `note` learnt something. Every walk that ends in a matched rule asks,
    /// and garbled input holds up to `unitLimit` names per hook (scripts/bench-replay.sh's mutated rows:
    /// building the list per walk took 96% of the time).
    @exclusivity(unchecked) private var sorted: [[Candidate]?] = Array(repeating: nil, count: Hook.allCases.count)

    private func candidates(at hook: Hook) -> [Candidate] {
        let h = hook.number
        if let cached = sorted[h] { return cached }
        var found: [Candidate] = []
        var labels = Set<String>()
        for t in legacyTables {
            if let p = Netfilter.priority(table: t.table, hook: hook) {
                found.append(Candidate(priority: p, label: "\(t.table):\(hook.rawValue)", nat: t.nat))
                labels.insert(found[found.count - 1].label)
            }
        }
        for (unit, isNat) in units[hook] ?? [:] {
            let candidate = Candidate(unit, nat: isNat, at: hook)
            guard labels.insert(candidate.label).inserted else { continue }
            found.append(candidate)
        }
        found.sort { $0.precedes($1) }
        sorted[h] = found
        return found
    }

    private func remember(_ unit: ChainUnit, _ nat: Bool, at h: Int) {
        if let k = recent[h].firstIndex(where: { $0.unit == unit }) {
            recent[h][k].nat = nat
        } else {
            if recent[h].count >= Visibility.recentLimit { recent[h].removeFirst() }
            recent[h].append((unit, nat))
        }
    }
}
