/// Parses nf_log text (TRACE and LOG-target lines, ebtables LOG lines) inside any log wrapper.
struct KernelLogParser {
    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, at position: SourcePosition, emit: (TraceEvent) -> Void)
        -> LineStatus
    {
        .notMine
    }
}
