import Foundation
import PathTraceCore

/// Loads `--ruleset [table=]file` arguments into one lookup.
enum RulesetLoader {
    static func load(_ specs: [String]) throws -> RuleLookup? {
        if specs.isEmpty { return nil }
        var merged = Ruleset()
        for spec in specs {
            let (table, path) = RulesetParser.splitArgument(spec)
            if let table, !["raw", "mangle", "nat", "filter", "security"].contains(table) {
                throw CLIFailure.usage(
                    "--ruleset: unknown table '\(table)' in '\(spec)' (raw, mangle, nat, filter, security)")
            }
            let text: String
            do {
                text = try String(contentsOfFile: path, encoding: .utf8)
            } catch {
                throw CLIFailure.unreadable("cannot read ruleset \(path): \((error as NSError).localizedDescription)")
            }
            do {
                merged.merge(try RulesetParser.parse(text, defaultTable: table, sourceName: path))
            } catch let error as RulesetError {
                throw CLIFailure.unreadable("ruleset \(error)")
            }
        }
        return merged
    }
}
