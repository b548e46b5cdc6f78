/// What the analyzer needs to know about a rule: its text, its target and, for NAT targets, what it fixes.
public struct RuleResolution: Sendable, Equatable {
    public var text: String?
    /// `ACCEPT`, `DROP`, `REJECT`, `RETURN`, `MASQUERADE`, a user chain, nft `accept`, `jump X`, ...
    public var target: String?
    public var nat: NatSpec?

    public init(text: String?, target: String?, nat: NatSpec?) {
        self.text = text
        self.target = target
        self.nat = nat
    }
}

/// A NAT target as far as its rule fixes the result.
public struct NatSpec: Sendable, Equatable {
    public var type: NatType
    /// The single address the rule maps to, when it names exactly one.
    public var address: IPAddress?
    /// The single port the rule maps to, when it names exactly one.
    public var port: UInt16?

    public init(type: NatType, address: IPAddress?, port: UInt16?) {
        self.type = type
        self.address = address
        self.port = port
    }
}

/// Resolves rules named by trace records: by position (legacy TRACE) or handle (nft).
public protocol RuleLookup {
    func resolve(table: String, chain: String, rule: RuleRef) -> RuleResolution?
    /// The chain's policy (`ACCEPT`, `DROP`), when known.
    func policy(table: String, chain: String) -> String?
    /// The NAT target in a rule's own text (`dnat to 10.0.0.2:80`, `-j DNAT --to-destination …`).
    func natSpec(ruleText: String) -> NatSpec?
    /// The address MASQUERADE picks on an interface, when a topology knows it.
    func masqueradeAddress(outIface: String, family: Family) -> IPAddress?
}

extension RuleLookup {
    public func masqueradeAddress(outIface: String, family: Family) -> IPAddress? { nil }
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
