/// A namespace's ruleset seen with its topology: MASQUERADE picks the out device's address.
public struct TopologyRuleLookup: RuleLookup {
    public let base: RuleLookup
    public let topology: Topology
    public let netns: String

    public init(base: RuleLookup?, topology: Topology, netns: String) {
        self.base = base ?? TextRuleLookup()
        self.topology = topology
        self.netns = netns
    }

    public func resolve(table: String, chain: String, rule: RuleRef, family: Family) -> RuleResolution? {
        base.resolve(table: table, chain: chain, rule: rule, family: family)
    }

    public func policy(table: String, chain: String, family: Family) -> String? {
        base.policy(table: table, chain: chain, family: family)
    }

    public func natTarget(ruleText: String) -> NatTarget? { base.natTarget(ruleText: ruleText) }

    public func basePosition(table: String, chain: String, family: Family) -> HookPosition? {
        base.basePosition(table: table, chain: chain, family: family)
    }

    /// The kernel's choice (inet_select_addr) is the primary address of the device in scope; the first
    /// address of the family on it, link-local ones aside, is that primary address.
    public func masqueradeAddress(outIface: String, family: Family) -> IPAddress? {
        let v6 = family == .ipv6
        return topology.addresses(netns: netns, ifname: outIface).lazy.compactMap { IPNetwork($0)?.address }
            .first { $0.isV6 == v6 && !$0.isLinkLocal }
    }
}
