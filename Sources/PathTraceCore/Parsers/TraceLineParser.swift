/// Reads any mix of supported trace formats, one line at a time, and emits `TraceEvent`s.
///
/// The format is detected per line, so a file may interleave dmesg, syslog, `nft monitor trace` and
/// `xtables-monitor --trace` output. The parser never prints; skipped lines go to `onSkip`.
public struct TraceLineParser {
    public let file: String
    var kernel = KernelLogParser()
    var nft = NftMonitorParser()
    var xtables = XtablesMonitorParser()

    public init(file: String) {
        self.file = file
    }

    /// Parses one line (without its newline). Returns the number of events emitted.
    @discardableResult
    public mutating func parse(
        line: UnsafeBufferPointer<UInt8>, lineNumber: Int, emit: (TraceEvent) -> Void, onSkip: (SkippedLine) -> Void
    ) -> Int {
        var count = 0
        let position = SourcePosition(file: file, line: lineNumber)
        let counting: (TraceEvent) -> Void = { event in
            count += 1
            emit(event)
        }
        if TraceLineParser.isBlank(line) { return 0 }
        var status = xtables.parse(line, at: position, emit: counting)
        if status == .notMine { status = nft.parse(line, at: position, emit: counting) }
        if status == .notMine { status = kernel.parse(line, at: position, emit: counting) }
        switch status {
        case .recognized: break
        case .notMine: onSkip(SkippedLine(source: position, reason: "not a trace or log record"))
        case .malformed(let why): onSkip(SkippedLine(source: position, reason: why))
        }
        return count
    }

    static func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in line where b != 32 && b != 9 && b != 13 { return false }
        return true
    }
}
