import Foundation

/// A ruleset snapshot taken before rules were inserted at the head of some chains (a live session's
/// reply rules, added while it runs): a legacy TRACE record numbers a rule by its position now, so a
/// position in such a chain is looked up that many rules further up. Positions of the inserted rules
/// themselves resolve to a bare `TRACE` target.
public final class ShiftedRuleLookup: RuleLookup, @unchecked Sendable {
    public let base: RuleLookup
    private let lock = NSLock()
    private var inserted: [String: Int] = [:]

    public init(_ base: RuleLookup) {
        self.base = base
    }

    static func key(_ family: Family, _ table: String, _ chain: String) -> String { "\(family) \(table) \(chain)" }

    /// Records `count` rules inserted at the head of a chain.
    public func noteInserted(family: TraceFamily, table: String, chain: String, count: Int = 1) {
        let key = Self.key(family == .ipv4 ? .ipv4 : .ipv6, table, chain)
        lock.withLock { inserted[key, default: 0] += count }
    }

    /// How many rules were inserted at the head of the chain since the snapshot.
    public func shift(table: String, chain: String, family: Family) -> Int {
        lock.withLock { inserted[Self.key(family, table, chain)] ?? 0 }
    }

    public func resolve(table: String, chain: String, rule: RuleRef, family: Family) -> RuleResolution? {
        guard case .number(let n) = rule else {
            return base.resolve(table: table, chain: chain, rule: rule, family: family)
        }
        let k = shift(table: table, chain: chain, family: family)
        if n <= k { return RuleResolution(text: nil, target: "TRACE", nat: nil) }
        return base.resolve(table: table, chain: chain, rule: .number(n - k), family: family)
    }

    public func policy(table: String, chain: String, family: Family) -> String? {
        base.policy(table: table, chain: chain, family: family)
    }

    public func natTarget(ruleText: String) -> NatTarget? { base.natTarget(ruleText: ruleText) }

    public func masqueradeAddress(outIface: String, family: Family) -> IPAddress? {
        base.masqueradeAddress(outIface: outIface, family: family)
    }

    public func basePosition(table: String, chain: String, family: Family) -> HookPosition? {
        base.basePosition(table: table, chain: chain, family: family)
    }
}
