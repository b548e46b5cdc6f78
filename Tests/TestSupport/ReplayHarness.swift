import Foundation
import PathTraceCore

/// Runs the replay pipeline in-process over fixture files: the same parser and correlator the CLI uses.
public struct ReplayResult {
    public var walks: [PacketWalk]
    public var skipped: [SkippedLine]
    public var stats: Correlator.Stats
}

public enum ReplayHarness {
    public static func run(_ files: [String], rulesets: [(table: String?, file: String)] = []) throws -> ReplayResult {
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
        var correlator = Correlator(lookup: lookup) { walks.append($0) }
        for file in files {
            let data = try Data(contentsOf: Fixtures.url(file))
            var parser = TraceLineParser(file: file)
            var splitter = LineSplitter()
            data.withUnsafeBytes { raw in
                let bytes = raw.bindMemory(to: UInt8.self)
                let handle: (LineSplitter.Line, Int) -> Void = { line, number in
                    guard case .text(let text) = line else { return }
                    parser.parse(
                        line: text, lineNumber: number, emit: { correlator.add($0) }, onSkip: { skipped.append($0) })
                }
                splitter.feed(bytes, handle)
                splitter.finish(handle)
            }
        }
        correlator.finish()
        return ReplayResult(walks: walks, skipped: skipped, stats: correlator.stats)
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
