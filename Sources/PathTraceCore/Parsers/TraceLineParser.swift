/// Reads any mix of supported trace formats, one line at a time, and emits `TraceEvent`s.
///
/// The format is detected per line, so a file may interleave dmesg, syslog, `nft monitor trace` and
/// `xtables-monitor --trace` output. The parser never prints; skipped lines go to `onSkip`.
public struct TraceLineParser {
    /// The longest line parsed: the kernel prints at most 1019 bytes a record, and a pasted line with
    /// glued records stays far below this; longer lines are skipped, which bounds the work per line.
    public static let maxLineLength = 65536

    public let file: String
    private let fileName: Name
    var kernel: KernelLogParser
    var nft = NftMonitorParser()
    var xtables = XtablesMonitorParser()
    var saved = SavedEventParser()

    public init(file: String) {
        self.file = file
        fileName = Name(file)
        kernel = KernelLogParser(file: fileName)
    }

    /// Parses one line (without its newline). Returns the number of events emitted.
    @discardableResult
    public mutating func parse(
        line: UnsafeBufferPointer<UInt8>, lineNumber: Int, emit: (TraceEvent) -> Void, onSkip: (SkippedLine) -> Void
    ) -> Int {
        parse(line: line, lineNumber: lineNumber, emitAt: { emit($0.pointee) }, onSkip: onSkip)
    }

    /// `parse(line:lineNumber:emit:onSkip:)` handing each event by its address, which holds only during
    /// the call: replay copies it straight into its window (see `Batch`). Inlined, a kernel line's
    /// checks and call: as a call of its own (its frame set up for every format's parser) this was
    /// 39 instructions a line (callgrind, scripts/icount.sh on t10); the other formats are `parseOther`.
    @discardableResult @inline(__always)
    mutating func parse(
        line: UnsafeBufferPointer<UInt8>, lineNumber: Int, emitAt emit: (UnsafePointer<TraceEvent>) -> Void,
        onSkip: (SkippedLine) -> Void
    ) -> Int {
        if let b = line.baseAddress, line.count > 0, line.count <= TraceLineParser.maxLineLength,
            b[0] == UInt8(ascii: "["), b[line.count - 1] != Byte.cr
        {
            // A kernel line behind a dmesg stamp, nearly every line of a trace: no other format opens
            // with `[` and it is not pasted text, so it goes straight to the kernel parser (the checks
            // below were 40 instructions a line; callgrind, scripts/icount.sh on t10). Its events are
            // counted by the parser (a counting closure around `emit` was a 15-instruction thunk a
            // line) and a position is made only for a skipped line (the file's name was copied and
            // destroyed for each).
            let before = kernel.records
            let status = kernel.parse(line, lineNumber: lineNumber, emit: emit)
            if case .recognized = status { return kernel.records &- before }
            reportKernel(status, lineNumber, onSkip)
            return kernel.records &- before
        }
        return parseOther(line: line, lineNumber: lineNumber, emitAt: emit, onSkip: onSkip)
    }

    /// A kernel line the kernel parser did not take, to `onSkip`.
    @inline(never) private func reportKernel(_ status: LineStatus, _ lineNumber: Int, _ onSkip: (SkippedLine) -> Void) {
        TraceLineParser.report(status, SourcePosition(fileName: fileName, line: lineNumber), onSkip)
    }

    /// `parse` for a line that is not a kernel line behind a dmesg stamp.
    @inline(never) private mutating func parseOther(
        line: UnsafeBufferPointer<UInt8>, lineNumber: Int, emitAt emit: (UnsafePointer<TraceEvent>) -> Void,
        onSkip: (SkippedLine) -> Void
    ) -> Int {
        if TraceLineParser.isBlank(line) { return 0 }
        let position = SourcePosition(fileName: fileName, line: lineNumber)
        if line.count > TraceLineParser.maxLineLength {
            onSkip(SkippedLine(source: position, reason: "line longer than \(TraceLineParser.maxLineLength) bytes"))
            return 0
        }
        // Pasted text: a copy's line number, indentation or CR goes; the record is what follows.
        var line = line
        if let first = line.first, let last = line.last,
            first == Byte.space || first == Byte.tab || Byte.isDigit(first) || last == Byte.cr
        {
            guard let record = PastedText.record(in: line) else {
                onSkip(SkippedLine(source: position, reason: "a line number without a record"))
                return 0
            }
            line = record
        }
        var count = 0
        // Each other format opens with its own byte, after spaces the monitor parsers would skip:
        // `{"pathtrace-event":`, xtables-monitor's `PACKET: `/`TRACE: `, nft's `trace id `. Kernel
        // lines skip the three parsers that cannot take them.
        let first = line.first ?? 0
        let anyFormat = MonitorScanner.isSpace(first)
        var status = LineStatus.notMine
        if anyFormat || first == UInt8(ascii: "{") {
            status = saved.parse(line, at: position) { e in
                count += 1
                withUnsafePointer(to: e) { emit($0) }
            }
        }
        if case .notMine = status, anyFormat || first == UInt8(ascii: "P") || first == UInt8(ascii: "T") {
            status = xtables.parse(line, at: position) { e in
                count += 1
                withUnsafePointer(to: e) { emit($0) }
            }
        }
        if case .notMine = status, anyFormat || first == UInt8(ascii: "t") {
            status = nft.parse(line, at: position) { e in
                count += 1
                withUnsafePointer(to: e) { emit($0) }
            }
        }
        if case .notMine = status {
            status = kernel.parse(line, lineNumber: lineNumber) {
                count += 1; emit($0)
            }
        }
        TraceLineParser.report(status, position, onSkip)
        return count
    }

    /// Hands a line the parsers did not take to `onSkip`, with the reason.
    @inline(__always) private static func report(
        _ status: LineStatus, _ position: SourcePosition, _ onSkip: (SkippedLine) -> Void
    ) {
        switch status {
        case .recognized: break
        case .notMine: onSkip(SkippedLine(source: position, reason: "not a trace or log record"))
        case .malformed(let why): onSkip(SkippedLine(source: position, reason: why))
        }
    }

    static func isBlank(_ line: UnsafeBufferPointer<UInt8>) -> Bool {
        for b in line where b != 32 && b != 9 && b != 13 { return false }
        return true
    }
}
