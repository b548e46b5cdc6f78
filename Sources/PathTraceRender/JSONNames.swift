import PathTraceCore

/// The model's enum raw values as static text, so the JSON writer copies them without making a
/// String (a test checks every case against `rawValue`).
public enum JSONNames {
    public static func name(_ v: Family) -> StaticString {
        switch v {
        case .ipv4: return "ipv4"
        case .ipv6: return "ipv6"
        case .arp: return "arp"
        case .bridge: return "bridge"
        }
    }

    public static func name(_ v: PathClass) -> StaticString {
        switch v {
        case .input: return "input"
        case .forward: return "forward"
        case .output: return "output"
        case .bridged: return "bridged"
        case .incomplete: return "incomplete"
        }
    }

    public static func name(_ v: WalkVerdict) -> StaticString {
        switch v {
        case .accept: return "accept"
        case .drop: return "drop"
        case .queue: return "queue"
        case .unknown: return "unknown"
        }
    }

    public static func name(_ v: Hook) -> StaticString {
        switch v {
        case .prerouting: return "PREROUTING"
        case .input: return "INPUT"
        case .forward: return "FORWARD"
        case .output: return "OUTPUT"
        case .postrouting: return "POSTROUTING"
        case .brouting: return "BROUTING"
        }
    }

    public static func name(_ v: StepKind) -> StaticString {
        switch v {
        case .rule: return "rule"
        case .return: return "return"
        case .policy: return "policy"
        case .log: return "log"
        }
    }

    public static func name(_ v: EventOrigin) -> StaticString {
        switch v {
        case .kernelTrace: return "kernel-trace"
        case .logTarget: return "log"
        case .ebtablesLog: return "ebtables-log"
        case .nftMonitor: return "nft-monitor"
        case .xtablesMonitor: return "xtables-monitor"
        case .netlink: return "netlink"
        }
    }

    public static func name(_ v: NatType) -> StaticString {
        switch v {
        case .dnat: return "dnat"
        case .snat: return "snat"
        case .masquerade: return "masquerade"
        case .redirect: return "redirect"
        }
    }

    public static func name(_ v: NatEvidence) -> StaticString {
        switch v {
        case .observed: return "observed"
        case .reply: return "reply"
        case .conntrack: return "conntrack"
        case .rule: return "rule"
        case .chain: return "chain"
        }
    }

    /// `IPProtocol.name(number)` for the protocols it names; nil for those it prints as a number.
    public static func proto(_ number: UInt8) -> StaticString? {
        switch number {
        case IPProtocol.icmp: return "icmp"
        case IPProtocol.igmp: return "igmp"
        case IPProtocol.tcp: return "tcp"
        case IPProtocol.udp: return "udp"
        case IPProtocol.gre: return "gre"
        case IPProtocol.esp: return "esp"
        case IPProtocol.ah: return "ah"
        case IPProtocol.icmpv6: return "icmpv6"
        case IPProtocol.sctp: return "sctp"
        case IPProtocol.udplite: return "udplite"
        default: return nil
        }
    }
}
