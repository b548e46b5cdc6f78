#if os(Linux)
import PathTraceCore

/// The namespace's ruleset when tracing starts, so steps show their rule's text and nft chains their hook.
public enum RulesetSnapshot {
    /// The argv of each listing the backend's steps refer to: nft handles, or legacy rule numbers of
    /// both families (a legacy table and an nft table of the same name must not be merged).
    /// `mixed` takes both: its walks hold legacy steps and nft steps (the tables stay apart by format).
    public static func commands(for backend: TraceBackend) -> [[String]] {
        let legacy = TraceFamily.allCases.map { [TraceRulePlan.iptablesSaveBinary($0)] }
        switch backend {
        case .nft: return [["nft", "-a", "list", "ruleset"]]
        case .mixed: return legacy + [["nft", "-a", "list", "ruleset"]]
        case .legacy, .nflog, .kmsg: return legacy
        }
    }

    /// Runs the listings and merges what parses (`Ruleset.parsingApart`); nil when there is nothing.
    public static func take(
        for backend: TraceBackend, in namespace: TraceNamespace, runner: any CommandRunning = SystemCommandRunner()
    ) -> RuleLookup? {
        Ruleset.parsingApart(
            commands(for: backend).compactMap { argv in
                (try? runner.run(PlannedCommand(argv), in: namespace).stdout).map {
                    (text: $0, source: argv.joined(separator: " "))
                }
            })
    }
}
#endif
