import ArgumentParser
import Foundation
import PathTraceCore

/// `--ruleset [table=]file`, repeatable: the rules the trace's rule numbers and handles refer to.
struct RulesetOptions: ParsableArguments {
    @Option(
        name: .customLong("ruleset"),
        help: ArgumentHelp(
            "iptables-save output, an `iptables [-t T] -nvL` listing or `nft -a list ruleset`; TABLE=FILE names a listing's table. Repeatable.",
            valueName: "[table=]file"))
    var files: [String] = []

    func load() throws -> RuleLookup? { try RulesetLoader.load(files) }
}

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
