import PathTraceCore
import TestSupport

/// Runs text through the public `TraceLineParser`, as `pathtrace replay` does, for the monitor tests.
enum MonitorParsing {
    struct Result {
        var events: [TraceEvent] = []
        var skipped: [SkippedLine] = []
    }

    static func parse(_ text: String, file: String = "test") -> Result {
        var parser = TraceLineParser(file: file)
        var result = Result()
        var number = 0
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            number += 1
            var copy = String(line)
            copy.withUTF8 { bytes in
                parser.parse(
                    line: bytes, lineNumber: number, emit: { result.events.append($0) },
                    onSkip: { result.skipped.append($0) })
            }
        }
        return result
    }

    static func fixture(_ relative: String) throws -> Result {
        parse(try Fixtures.text(relative), file: relative)
    }

    /// `table:chain kind verdict`, a compact form for comparing walks.
    static func step(_ e: TraceEvent) -> String {
        "\(e.table):\(e.chain) \(e.kind.rawValue) \(e.verdict.map { $0.description } ?? "-")"
    }
}
