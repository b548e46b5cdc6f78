import ArgumentParser
import PathTraceCore
import PathTraceRender

struct Replay: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconstruct packet walks from saved trace output.",
        discussion: """
            Reads kernel TRACE and LOG lines (dmesg, dmesg -T, journalctl, syslog, /dev/kmsg), \
            `nft monitor trace` and `xtables-monitor --trace` output, mixed in any order; the format \
            is detected per line. Each packet's walk through the tables and chains is printed with \
            what NAT rewrote.

            Examples:
              pathtrace replay /var/log/kern.log --dport 3128
              pathtrace replay trace.log --ruleset filter=fw.txt --ruleset nat=nat.txt
              iptables-save > rules; pathtrace replay trace.log --ruleset rules --format json

            A summary (events, walks, skipped lines) goes to stderr.
            """)

    @Argument(help: ArgumentHelp("Trace files to read; - or nothing reads standard input.", valueName: "file"))
    var files: [String] = []

    @Option(
        name: .customLong("ruleset"),
        help: ArgumentHelp(
            "iptables-save output, an `iptables [-t T] -nvL` listing or `nft -a list ruleset`; TABLE=FILE names a listing's table. Repeatable.",
            valueName: "[table=]file"))
    var rulesets: [String] = []

    @OptionGroup(title: "Filter") var filter: FilterOptions
    @OptionGroup(title: "Output") var output: OutputOptions

    @Flag(help: "Exit with code 3 if any input line was skipped.")
    var strict = false

    func run() async throws {
        let walkFilter = try filter.makeFilter()
        let lookup = try RulesetLoader.load(rulesets)
        let out = FileOutput.stdout
        let timeline = TextTimeline(
            options: RenderOptions(color: out.isTerminal && !output.noColor, explain: output.explain))
        let json = output.format == .json
        var shown = 0
        // Walks are written straight into the writer's buffer, which goes out whenever it fills.
        let writer = JSONWriter()
        let flushAt = 1 << 16
        var correlator = Correlator(lookup: lookup) { walk in
            guard walkFilter.matches(walk) else { return }
            shown += 1
            if json {
                WalkJSON.write(walk, to: writer)
                if writer.count >= flushAt {
                    out.write(raw: writer.buffer)
                    writer.removeAll()
                }
            } else {
                out.write(timeline.render(walk) + "\n")
            }
        }
        var skipped = SkipReport()
        let inputs = files.isEmpty ? ["-"] : files
        for path in inputs {
            let file = try InputFile(path: path)
            defer { file.close() }
            var parser = TraceLineParser(file: path == "-" ? "stdin" : path)
            var splitter = LineSplitter()
            let handle: (LineSplitter.Line, Int) -> Void = { line, number in
                switch line {
                case .text(let bytes):
                    parser.parse(
                        line: bytes, lineNumber: number, emit: { correlator.add($0) },
                        onSkip: { skipped.add($0) })
                case .overlong:
                    skipped.add(
                        SkippedLine(
                            source: SourcePosition(file: parser.file, line: number),
                            reason: "line longer than \(splitter.maxLine) bytes"))
                }
            }
            try file.forEachChunk { chunk in splitter.feed(chunk, handle) }
            splitter.finish(handle)
        }
        correlator.finish()
        out.write(raw: writer.buffer)
        out.flush()
        let stats = correlator.stats
        var summary =
            "pathtrace: \(stats.events) events, \(stats.walks) walks (\(stats.incomplete) incomplete)"
        if shown != stats.walks { summary += ", \(shown) shown after filtering" }
        summary += ", \(skipped.count) lines skipped"
        FileOutput.stderr.write(summary + "\n")
        for line in skipped.firstLines {
            FileOutput.stderr.write("  skipped \(line.source): \(line.reason)\n")
        }
        if skipped.count > skipped.firstLines.count {
            FileOutput.stderr.write("  … and \(skipped.count - skipped.firstLines.count) more\n")
        }
        if strict && skipped.count > 0 { throw CLIFailure(message: "--strict: \(skipped.count) lines skipped", code: 3) }
    }
}

/// Counts skipped lines and keeps the first few for the summary.
struct SkipReport {
    private(set) var count = 0
    private(set) var firstLines: [SkippedLine] = []

    mutating func add(_ line: SkippedLine) {
        count += 1
        if firstLines.count < 5 { firstLines.append(line) }
    }
}
