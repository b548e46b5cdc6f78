/// The ruleset of one firewall backend in use in a namespace, as its own tool prints it.
public struct TopologyRuleset: Codable, Sendable, Equatable {
    /// `iptables-legacy`, `ip6tables-legacy` or `nft`.
    public var backend: String
    /// `ipv4`, `ipv6` or `inet` (nft: every family).
    public var family: String
    /// `iptables-legacy-save` / `ip6tables-legacy-save` output (without its `#` comment lines), or `nft -a list ruleset`.
    public var text: String

    public init(backend: String, family: String, text: String) {
        self.backend = backend
        self.family = family
        self.text = text
    }
}
