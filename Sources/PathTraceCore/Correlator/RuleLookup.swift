/// What the analyzer needs to know about a rule: its text, its target and, for NAT targets, what it fixes.
public struct RuleResolution: Sendable, Equatable {
    public var text: String?
    /// `ACCEPT`, `DROP`, `REJECT`, `RETURN`, `MASQUERADE`, a user chain, nft `accept`, `jump X`, ...
    public var target: String?
    public var nat: NatTarget?

    public init(text: String?, target: String?, nat: NatTarget?) {
        self.text = text
        self.target = target
        self.nat = nat
    }
}

/// Resolves rules named by trace records: by position (legacy TRACE) or handle (nft).
public protocol RuleLookup {
    func resolve(table: String, chain: String, rule: RuleRef, family: Family) -> RuleResolution?
    /// The chain's policy (`ACCEPT`, `DROP`), when known.
    func policy(table: String, chain: String, family: Family) -> String?
    /// The NAT target in a rule's own text (`dnat to 10.0.0.2:80`, `-j DNAT --to-destination …`).
    func natTarget(ruleText: String) -> NatTarget?
    /// The address MASQUERADE picks on an interface, when a topology knows it.
    func masqueradeAddress(outIface: String, family: Family) -> IPAddress?
    /// Hook and priority of an nft base chain, when a ruleset declares it.
    func basePosition(table: String, chain: String, family: Family) -> HookPosition?
}

extension RuleLookup {
    public func masqueradeAddress(outIface: String, family: Family) -> IPAddress? { nil }
    public func basePosition(table: String, chain: String, family: Family) -> HookPosition? { nil }
    public func natTarget(ruleText: String) -> NatTarget? { RulesetParser.natTarget(fromRuleText: ruleText) }
}

/// The lookup used without `--ruleset`: only rule text printed by the source itself is understood.
public struct TextRuleLookup: RuleLookup {
    public init() {}
    public func resolve(table: String, chain: String, rule: RuleRef, family: Family) -> RuleResolution? { nil }
    public func policy(table: String, chain: String, family: Family) -> String? { nil }
}

extension Ruleset: RuleLookup {
    public func resolve(table: String, chain: String, rule ref: RuleRef, family: Family) -> RuleResolution? {
        guard let info = rule(table: table, chain: chain, ref: ref, family: family) else { return nil }
        return RuleResolution(text: info.text, target: info.target, nat: info.nat)
    }

    public func policy(table: String, chain: String, family: Family) -> String? {
        policy(table: table, chain: chain, family: Optional(family))
    }

    public func basePosition(table: String, chain: String, family: Family) -> HookPosition? {
        // Only nft base chains declare a hook: an iptables table kept apart under the same name has none.
        let declared = tables(named: table, family: family).lazy.compactMap { $0.chain(chain) }.filter {
            $0.hook != nil
        }
        guard let c = declared.first, let hookName = c.hook,
            let hook = Hook(chainName: hookName)
        else { return nil }
        return HookPosition(hook: hook, priority: c.priority.flatMap(Netfilter.priority(nft:)) ?? 0)
    }
}

/// What a target name means for the packet's walk.
enum TargetMeaning {
    case accept, drop, queue, returns, jump(String), nat(NatType), nonTerminal

    init(_ target: String) {
        let t = target.trimmingSpaces()
        switch t.uppercased() {
        case "ACCEPT": self = .accept
        case "DROP", "REJECT": self = .drop
        case "QUEUE", "NFQUEUE": self = .queue
        case "RETURN": self = .returns
        case "DNAT": self = .nat(.dnat)
        case "SNAT": self = .nat(.snat)
        case "MASQUERADE": self = .nat(.masquerade)
        case "REDIRECT": self = .nat(.redirect)
        case "LOG", "NFLOG", "MARK", "CONNMARK", "TRACE", "CT", "NOTRACK", "TOS", "TTL", "HL", "DSCP", "CLASSIFY",
            "TCPMSS", "CHECKSUM", "AUDIT", "ULOG", "SET", "":
            self = .nonTerminal
        default:
            let lower = t.lowercased()
            let isVerb = lower.hasPrefix("jump ") || lower.hasPrefix("goto ")
            self = .jump(isVerb ? String(t.dropFirst(5)) : t)
        }
    }
}
