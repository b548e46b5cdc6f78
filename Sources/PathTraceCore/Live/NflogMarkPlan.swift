/// The nflog backend's rules: the packet is selected once, where it enters, by a mark bit, and the NFLOG
/// rule at the head of every chain matches that bit instead of repeating the filter, so a packet DNAT'd
/// to another address or port is still logged after the translation (as TRACE follows it by itself).
extension TraceRulePlan {
    /// The packet-mark bit the nflog backend selects packets with: bit 29, always set and matched with
    /// itself as the mask, so the other 31 bits of a mark are never read or changed. Kubernetes uses
    /// 0x4000/0x8000, Cilium the 0x0f00 nibble and Docker none; Calico's default mask 0xffff0000 does
    /// include it (a ruleset matching that bit would see pathtrace's selection while a session runs).
    public static let nflogMarkBit: UInt32 = 0x2000_0000

    /// `0x20000000/0x20000000`.
    static var markMatch: String {
        let hex = "0x" + String(nflogMarkBit, radix: 16)
        return "\(hex)/\(hex)"
    }

    /// Tables to select in, first present first: raw runs before conntrack and every other table; mangle
    /// and nat still before DNAT; filter (and security) only where nothing earlier is loaded.
    static let selectionTables = ["raw", "mangle", "nat", "filter", "security"]

    /// The selecting chains of a table: where packets enter it.
    public static func entryChains(_ table: String) -> [String] {
        table == "filter" || table == "security" ? ["INPUT", "FORWARD", "OUTPUT"] : ["PREROUTING", "OUTPUT"]
    }

    /// In install order (each inserted at position 1, so a chain reads top to bottom): in the selecting
    /// chains the filter sets the bit (rate-limited); in every built-in chain after conntrack the bit is
    /// saved to the connection and restored from it (so replies, a DNAT'd connection's too, carry it);
    /// every chain logs the packets with the bit.
    static func nflogRules(
        specs: [MatchSpec], families: [TraceFamily], rate: TraceRate, session: SessionID, group: UInt16,
        chains: [ChainRef]
    ) throws(TraceRulePlanError) -> [PlannedRule] {
        guard group != 0 else { throw .invalidNflogGroup(group) }
        let usable = chains.filter { families.contains($0.family) }
        guard !usable.isEmpty else { throw .noChains }
        let tag = ["-m", "comment", "--comment", session.ruleComment]
        // A burst of a second's worth: a packet the selection skips is not logged at all, while one the
        // restore would still mark (a reply) would show a walk without its start.
        let limit =
            rate.isUnlimited
            ? [] : ["-m", "limit", "--limit", "\(rate.perSecond)/second", "--limit-burst", "\(max(5, rate.perSecond))"]
        let setBit = ["-j", "MARK", "--set-xmark", markMatch]
        var rules: [PlannedRule] = []
        for family in families {
            let mine = usable.filter { $0.family == family }
            let present = Set(mine.filter(\.isBuiltin).map(\.table))
            let selecting = selectionTables.first { present.contains($0) }
            for ref in mine {
                guard ChainRef.isValidTable(ref.table) else { throw .invalidTable(ref.table) }
                guard ChainRef.isValidChain(ref.chain) else { throw .invalidChain(ref.chain) }
                func add(_ match: [String], _ target: [String]) {
                    rules.append(
                        iptablesRule(
                            family: family, table: ref.table, chain: ref.chain, position: 1, match: match,
                            target: target))
                }
                add(
                    ["-m", "mark", "--mark", markMatch] + tag,
                    ["-j", "NFLOG", "--nflog-group", String(group), "--nflog-prefix", "pt:\(ref.table):\(ref.chain)"])
                guard ref.isBuiltin else { continue }
                if ref.table != "raw" {
                    // Top to bottom: save (a selected packet marks its connection), then restore (a reply,
                    // whose address the filter may not match after a DNAT, gets the bit from it).
                    // Replies only: a packet of the selected direction is selected (or skipped) where it entered.
                    let restore = [
                        "-m", "mark", "!", "--mark", markMatch, "-m", "connmark", "--mark", markMatch, "-m",
                        "conntrack",
                        "--ctdir", "REPLY",
                    ]
                    add(restore + tag + limit, setBit)
                    add(["-m", "mark", "--mark", markMatch] + tag, ["-j", "CONNMARK", "--set-xmark", markMatch])
                }
                guard ref.table == selecting, entryChains(ref.table).contains(ref.chain) else { continue }
                var direction = MatchSpec.Direction.none
                if ["PREROUTING", "INPUT"].contains(ref.chain) { direction = .in }
                if ref.chain == "OUTPUT" { direction = .out }
                for spec in specs {
                    for proto in spec.protocols(for: family) {
                        add(
                            spec.iptablesMatch(family: family, proto: proto, direction: direction) + tag + limit, setBit
                        )
                    }
                }
            }
        }
        return rules
    }
}
