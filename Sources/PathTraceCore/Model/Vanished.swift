/// Why a packet went no further: one cause, the fact that shows it and the command that would change it.
public struct Vanished: Sendable, Equatable {
    /// The closed set of causes the JSON contract names (README).
    public enum Cause: String, Sendable, CaseIterable {
        case ipForward = "ip_forward"
        case rpFilter = "rp_filter"
        case noRoute = "no_route"
        case ruleDrop = "rule_drop"
        case policyDrop = "policy_drop"
        case brNetfilterOff = "br_netfilter_off"
        case martianSource = "martian_source"
        case masqueradeNoAddress = "masquerade_no_address"
        case unknown
    }

    public var cause: Cause
    /// The namespace where it happened.
    public var netns: String?
    /// One line: the fact that shows it (the sysctl and its value, the route lookup, the rule and its text).
    public var detail: String
    /// A command that would change it, when there is one.
    public var fix: String?
    /// Whether the cause is inferred from what is missing rather than shown by a step.
    public var guess: Bool

    public init(cause: Cause, netns: String?, detail: String, fix: String? = nil, guess: Bool = false) {
        self.cause = cause
        self.netns = netns
        self.detail = detail
        self.fix = fix
        self.guess = guess
    }
}
