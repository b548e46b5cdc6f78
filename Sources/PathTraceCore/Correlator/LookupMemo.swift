/// Remembers the per-event questions the stitcher asks the rule lookup: a live session or a long
/// replay asks them for the same few chains and rule texts on every event, and parsing an nft
/// priority or a rule's NAT target each time was a sixth of the correlator's work.
final class LookupMemo {
    private struct ChainKey: Hashable {
        var table: Name
        var chain: Name
        var family: Family
    }

    private struct RuleKey: Hashable {
        var table: Name
        var chain: Name
        var rule: RuleRef
        var family: Family
    }

    /// A rule's resolution, with its text's name made once.
    struct Resolved {
        let resolution: RuleResolution?
        let text: Name?
    }

    let lookup: RuleLookup
    private var positions: [ChainKey: HookPosition?] = [:]
    private var rules: [RuleKey: Resolved] = [:]
    private var natTexts: [Name: Bool] = [:]
    private let limit = 4096

    init(_ lookup: RuleLookup) {
        self.lookup = lookup
    }

    func basePosition(_ e: TraceEvent) -> HookPosition? {
        let key = ChainKey(table: e.tableName, chain: e.chainName, family: e.family)
        if let known = positions[key] { return known }
        let position = lookup.basePosition(table: e.table, chain: e.chain, family: e.family)
        if positions.count >= limit { positions.removeAll(keepingCapacity: true) }
        positions[key] = .some(position)
        return position
    }

    /// The rule a step names, as the lookup resolves it. The analyzer asks up to four times per rule
    /// step (its text, its target, its NAT), and each answer built the names' strings and searched the
    /// ruleset's tables: 5% of live nft tracing's CPU with the lab's ruleset (perf, scripts/bench-live.sh).
    func resolve(_ e: borrowing TraceEvent, rule: RuleRef) -> Resolved {
        let key = RuleKey(table: e.tableName, chain: e.chainName, rule: rule, family: e.family)
        if let known = rules[key] { return known }
        let resolution = lookup.resolve(
            table: e.tableName.string, chain: e.chainName.string, rule: rule, family: e.family)
        let resolved = Resolved(resolution: resolution, text: resolution?.text.map { Name($0) })
        if rules.count >= limit { rules.removeAll(keepingCapacity: true) }
        rules[key] = resolved
        return resolved
    }

    /// Whether the event's own rule text is a NAT statement.
    func isNat(_ e: TraceEvent) -> Bool {
        if e.tableName == .nat { return true }
        guard let text = e.ruleTextName else { return false }
        if let known = natTexts[text] { return known }
        let nat = lookup.natTarget(ruleText: text.string) != nil
        if natTexts.count >= limit { natTexts.removeAll(keepingCapacity: true) }
        natTexts[text] = nat
        return nat
    }
}
