import ArgumentParser
import PathTraceCore
import PathTraceRender

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Reconstruct packet walks from saved trace output.",
        discussion: """
            Reads kernel TRACE and LOG lines (dmesg, dmesg -T, journalctl, syslog, /dev/kmsg), \
            `nft monitor trace` and `xtables-monitor --trace` output, mixed in any order; the format \
            is detected per line. Each packet's walk through the tables and chains is printed with \
            what NAT rewrote.

            Examples:
              pathtrace replay /var/log/kern.log --dport 3128
              dmesg | pathtrace replay - --proto icmp
              pathtrace replay t.log --ruleset filter=fw.txt --ruleset nat=nat.txt
              pathtrace replay t.log --ruleset saved-rules.txt --format json

            Making a trace to replay:
              iptables -t raw -I PREROUTING -p tcp --dport 3128 -j TRACE
                 ... send traffic ..., then: dmesg > t.log (and delete the rule with -D)
              nft monitor trace > t.txt     (with `meta nftrace set 1` in a rule)
              xtables-monitor --trace > t.txt

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

    func run() throws {
        let walkFilter = try filter.makeFilter()
        let lookup = try RulesetLoader.load(rulesets)
        let out = FileOutput.stdout
        let timeline = TextTimeline(options: output.renderOptions(out))
        let json = output.format == .json
        var shown = 0
        // Walks are written straight into the writer's buffer, which goes out whenever it fills.
        let writer = JSONWriter()
        let flushAt = 1 << 16
        var correlator = Correlator(lookup: lookup) { walk in
            guard walkFilter.matches(walk) else { return }
            shown += 1
            if json {
                WalkJSON.write(walk, to: writer, verbose: output.verbose)
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
            var splitter = LineSplitter(maxLine: TraceLineParser.maxLineLength)
            let maxLine = splitter.maxLine
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
                            reason: "line longer than \(maxLine) bytes"))
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
            "pathtrace: \(plural(stats.events, "event")), \(plural(stats.walks, "walk")) (\(stats.incomplete) incomplete)"
        if shown != stats.walks { summary += ", \(shown) shown after filtering" }
        summary += ", \(plural(skipped.count, "line")) skipped"
        FileOutput.stderr.write(summary + "\n")
        for line in skipped.summaryLines() { FileOutput.stderr.write("  " + line + "\n") }
        if strict && skipped.count > 0 {
            throw CLIFailure(message: "--strict: \(skipped.count) lines skipped", code: 3)
        }
    }
}

/// Counts skipped lines by reason and keeps the first line numbers of each for the summary.
struct SkipReport {
    private(set) var count = 0
    private var reasons: [(reason: String, count: Int, first: [SourcePosition])] = []
    private let maxReasons = 8

    mutating func add(_ line: SkippedLine) {
        count += 1
        let reason = reasons.count < maxReasons || reasons.contains { $0.reason == line.reason } ? line.reason : "other"
        if let i = reasons.firstIndex(where: { $0.reason == reason }) {
            reasons[i].count += 1
            if reasons[i].first.count < 3 { reasons[i].first.append(line.source) }
        } else {
            reasons.append((reason, 1, [line.source]))
        }
    }

    /// `733 × not a trace or log record (first: stdin:1, stdin:2, stdin:3)`, one line per reason.
    func summaryLines() -> [String] {
        reasons.map { r in
            let more = r.count > r.first.count ? ", …" : ""
            return "\(r.count) × \(r.reason) (first: \(r.first.map(\.description).joined(separator: ", "))\(more))"
        }
    }
}

/// `1 walk`, `2 walks`.
func plural(_ n: Int, _ noun: String) -> String { n == 1 ? "1 \(noun)" : "\(n) \(noun)s" }
