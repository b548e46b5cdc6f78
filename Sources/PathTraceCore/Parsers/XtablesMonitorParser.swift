/// Parses `xtables-monitor --trace` output.
struct XtablesMonitorParser {
    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, at position: SourcePosition, emit: (TraceEvent) -> Void)
        -> LineStatus
    {
        .notMine
    }
}
