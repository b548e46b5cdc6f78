import PathTraceCore

/// Loads `--ruleset [table=]file` arguments into one lookup.
enum RulesetLoader {
    static func load(_ specs: [String]) throws -> RuleLookup? {
        if specs.isEmpty { return nil }
        throw CLIFailure.usage("--ruleset: not available yet")
    }
}
