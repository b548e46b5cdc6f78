import PathTraceCore

/// One-line lessons for `--explain`: what each hook is for, as a teacher would say it.
enum Explain {
    static func hook(_ hook: Hook, family: Family) -> String {
        switch hook {
        case .prerouting:
            return
                "PREROUTING: every packet arriving on an interface, before the routing decision (raw, conntrack, mangle, DNAT)"
        case .input:
            return "INPUT: the route said 'this host'; last stop before a local socket (mangle, filter, security, SNAT)"
        case .forward:
            return "FORWARD: the route said 'another host'; TTL already decremented (mangle, filter, security)"
        case .output:
            return "OUTPUT: a packet a local socket sent, after its route lookup (raw, mangle, DNAT, filter, security)"
        case .postrouting: return "POSTROUTING: about to leave on the chosen interface (mangle, SNAT/MASQUERADE)"
        case .brouting: return "BROUTING: ebtables decides whether a bridged frame is routed instead"
        }
    }
}
