#if os(Linux)
import PathTraceCore

/// Which backend and families a live trace uses in a namespace, decided from what its rulesets hold.
public enum BackendChoice {
    /// `requested` nil is `auto`: legacy TRACE when the namespace has iptables-legacy rules (IPv4 or IPv6),
    /// because nf_tables trace would not see them; nft otherwise. The reason is for the user.
    public static func choose(
        _ requested: TraceBackend?, in namespace: TraceNamespace, runner: any CommandRunning = SystemCommandRunner()
    ) -> (backend: TraceBackend, reason: String?) {
        if let requested { return (requested, nil) }
        let legacyInUse = TraceFamily.allCases.contains { family in
            let save = try? runner.run(PlannedCommand([TraceRulePlan.iptablesSaveBinary(family)]), in: namespace)
            return save?.stdout.split(separator: "\n").contains { $0.hasPrefix("-A ") } ?? false
        }
        return legacyInUse
            ? (.legacy, "the ruleset has iptables-legacy rules") : (.nft, "no iptables-legacy rules in use")
    }

    /// The families to trace: those the filter asks for; when it names none, the legacy backends skip a
    /// family whose raw table is not loaded (a legacy table once loaded stays, empty, after its rules go),
    /// and say so in `notes`.
    public static func families(
        filter: WalkFilter, backend: TraceBackend, in namespace: TraceNamespace,
        runner: any CommandRunning = SystemCommandRunner()
    ) -> (families: [TraceFamily], notes: [String]) {
        switch filter.ipVersion {
        case 4: return ([.ipv4], [])
        case 6: return ([.ipv6], [])
        default:
            if let a = filter.src?.address ?? filter.dst?.address { return ([a.isV6 ? .ipv6 : .ipv4], []) }
            if filter.proto == IPProtocol.icmp { return ([.ipv4], []) }
            if filter.proto == IPProtocol.icmpv6 { return ([.ipv6], []) }
        }
        guard backend != .nft else { return (TraceFamily.allCases, []) }
        let loaded = TraceFamily.allCases.filter { family in
            let save = try? runner.run(PlannedCommand([TraceRulePlan.iptablesSaveBinary(family)]), in: namespace)
            let table = backend.usesLegacyTrace ? "*raw" : "*"
            return save?.stdout.split(separator: "\n").contains { $0.hasPrefix(table) } ?? false
        }
        var notes: [String] = []
        for family in TraceFamily.allCases where !loaded.contains(family) {
            let flag = family == .ipv4 ? "-4" : "-6"
            notes.append(
                "\(family.rawValue) not traced: its tables are not loaded here (\(flag) traces it, leaving an empty table)"
            )
        }
        return (loaded.isEmpty ? [.ipv4] : loaded, notes)
    }
}
#endif
