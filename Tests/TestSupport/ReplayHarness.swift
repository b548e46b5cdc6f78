import Foundation
import PathTraceCore

/// Runs the replay pipeline in-process over fixture files: the same parser and correlator the CLI uses.
public struct ReplayResult {
    public var walks: [PacketWalk]
    public var skipped: [SkippedLine]
    public var stats: Correlator.Stats
}

public enum ReplayHarness {
    /// Replays fixture files with `ReplayPipeline`, the pipeline `pathtrace replay` runs.
    public static func run(_ files: [String], rulesets: [(table: String?, file: String)] = []) throws -> ReplayResult {
        let sources = try files.map { MemorySource(name: $0, bytes: Array(try Data(contentsOf: Fixtures.url($0)))) }
        return try run(sources: sources, rulesets: rulesets)
    }

    /// Replays bytes made in the test (a fixture transformed), each cited by its source's name.
    public static func run(sources: [MemorySource], rulesets: [(table: String?, file: String)] = []) throws
        -> ReplayResult
    {
        var lookup: RuleLookup?
        if !rulesets.isEmpty {
            var merged = Ruleset()
            for r in rulesets {
                merged.merge(try RulesetParser.parse(Fixtures.text(r.file), defaultTable: r.table, sourceName: r.file))
            }
            lookup = merged
        }
        var walks: [PacketWalk] = []
        var skipped: [SkippedLine] = []
        let summary = try ReplayPipeline.run(sources, lookup: lookup, onSkip: { skipped.append($0) }) {
            walks.append($0)
        }
        return ReplayResult(walks: walks, skipped: skipped, stats: summary.stats)
    }
}

extension PacketWalk {
    /// `table:chain:kind:rule` of each step, the way TRACE prints it, for compact assertions.
    public var chainSequence: [String] {
        steps.map { s in
            var r = ""
            switch s.event.rule {
            case .number(let n): r = "\(n)"
            case .handle(let h): r = "#\(h)"
            case nil: r = ""
            }
            return "\(s.event.table):\(s.event.chain):\(s.event.kind.rawValue):\(r)"
        }
    }

    /// The source line numbers of the walk's steps.
    public var lines: [Int] { steps.map(\.event.source.line) }
}
