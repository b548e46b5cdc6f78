import PathTraceCore
import PathTraceLinux
import PathTraceRender

/// How live tracing shows itself: progress and the summary on stderr, each walk on stdout as soon as
/// it is done.
struct LiveOutput {
    private let printer: WalkPrinter
    private let pcap: PcapFile?

    /// Opens the `--pcap` file, if any: call before anything is installed.
    init(_ options: OutputOptions) throws {
        let out = FileOutput.stdout
        printer = WalkPrinter(format: options.walkFormat, options: options.renderOptions(out), flushEachWalk: true) {
            out.write(raw: $0)
        }
        pcap = try options.pcapFile(namespace: "the namespace pathtrace ran in", flushEachWalk: true)
    }

    func walk(_ walk: PacketWalk) {
        printer.print(walk)
        pcap?.write(walk)
    }

    func journey(_ journey: Journey) { printer.print(journey) }

    static func message(_ line: String) { FileOutput.stderr.write("pathtrace: \(line)\n") }

    func finish(_ summary: LiveSummary) {
        printer.flush()
        FileOutput.stdout.flush()
        for line in summary.lines { LiveOutput.message(line) }
        if let pcap { LiveOutput.message(pcap.close()) }
    }

    /// Runs `body`, giving a live trace's errors the CLI's exit statuses (`noNetAdmin`, `usage`, `failure`).
    static func mappingErrors<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as LiveTraceError {
            switch error {
            case .noNetAdmin: throw CLIFailure.noNetAdmin(error.description)
            case .usage: throw CLIFailure.usage(error.description)
            case .failed: throw CLIFailure.failed(error.description)
            }
        }
    }
}
