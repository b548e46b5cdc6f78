import ArgumentParser
import PathTraceCore
import PathTraceLinux
import PathTraceRender

struct Replay: ParsableCommand {
    // The commands spell their names out (all but Trace, see there): ArgumentParser otherwise derives
    // each from `String(describing: Self.self)`, whose casts scan every protocol conformance in the
    // process once per command, 9 M instructions at each start (callgrind, scripts/icount.sh on t10).
    static let configuration = CommandConfiguration(
        commandName: "replay",
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
              pathtrace replay t.log --explain --show-flow   # a sentence per step, each walk on the diagram
              pathtrace replay events.jsonl --topology topo.json   # a --save file of several namespaces
              pathtrace replay --netns ptlv-host=host.log --netns ptlv-wan=wan.log --topology topo.json

            Making a trace to replay:
              iptables -t raw -I PREROUTING -p tcp --dport 3128 -j TRACE
                 ... send traffic ..., then: dmesg > t.log (and delete the rule with -D)
              nft monitor trace > t.txt     (with `meta nftrace set 1` in a rule)
              xtables-monitor --trace > t.txt

            With --topology (from `pathtrace topology --save FILE`), walks name their devices, say why \
            they vanished, and walks of one packet in neighbouring namespaces join into journeys.

            A summary (events, walks, skipped lines) goes to stderr.
            """)

    @Argument(help: ArgumentHelp("Trace files to read; - or nothing reads standard input.", valueName: "file"))
    var files: [String] = []

    @OptionGroup var rulesets: RulesetOptions

    @Option(
        help: ArgumentHelp(
            "A topology snapshot (`pathtrace topology --save FILE`): walks name their devices, say why they "
                + "vanished, and walks of several namespaces join into journeys.", valueName: "file"))
    var topology: String?

    @Option(
        name: .customLong("netns"),
        help: ArgumentHelp(
            "A trace file of one namespace: its walks belong to NAME (the topology's name for it). Repeatable; "
                + "--save files name their namespace themselves.", valueName: "name=file"))
    var namespaceFiles: [String] = []

    @OptionGroup(title: "Filter") var filter: FilterOptions
    @OptionGroup(title: "Output") var output: OutputOptions

    @Flag(help: "Exit with code 3 if any input line was skipped.")
    var strict = false

    func run() throws {
        let out = FileOutput.stdout
        let printer = WalkPrinter(
            format: output.walkFormat, options: output.renderOptions(out), flushEachWalk: false
        ) { out.write(raw: $0) }
        let pcap = try output.pcapFile(namespace: "namespace not recorded", flushEachWalk: false)
        let walkFilter = try filter.makeFilter()
        let perNamespace = try namespaceFiles.map { spec in
            guard let eq = spec.firstIndex(of: "="), eq != spec.startIndex, spec.index(after: eq) != spec.endIndex
            else { throw CLIFailure.usage("--netns: expected NAME=FILE, got '\(spec)'") }
            return (netns: String(spec[..<eq]), path: String(spec[spec.index(after: eq)...]))
        }
        let lookup = try rulesets.load()
        printer.flowRuleset = lookup as? Ruleset
        var pipeline = ReplayPipeline(
            lookup: lookup, topology: try topology.map(loadTopology), filter: walkFilter
        ) { walk in
            pcap?.write(walk)
            printer.print(walk)
        }
        pipeline.onJourney = printer.print
        printer.spares = pipeline.spares
        pipeline.parsesAhead = LinuxPlatform.usableCPUs() >= 2
        let plain = files.isEmpty && perNamespace.isEmpty ? ["-"] : files
        for (netns, path) in plain.map({ (nil as String?, $0) }) + perNamespace.map({ ($0.netns, $0.path) }) {
            let file = try InputFile(path: path)
            defer { file.close() }
            try pipeline.read(file, netns: netns)
        }
        let summary = pipeline.finish()
        printer.flush()
        out.flush()
        FileOutput.stderr.write("pathtrace: " + summary.lines.joined(separator: "\n") + "\n")
        if let pcap { FileOutput.stderr.write("pathtrace: \(pcap.close())\n") }
        if summary.journeys > 0 {
            FileOutput.stderr.write("pathtrace: \(plural(summary.journeys, "journey")) across namespaces\n")
        }
        if strict && summary.skipped.count > 0 {
            throw CLIFailure(message: "--strict: \(summary.skipped.count) lines skipped", status: .skippedLines)
        }
    }

    func loadTopology(_ path: String) throws -> Topology {
        do {
            return try TopologyFile.load(path)
        } catch let error as TopologyError {
            throw CLIFailure.unreadable("--topology: \(error)")
        }
    }
}
