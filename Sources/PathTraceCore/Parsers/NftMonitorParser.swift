/// Parses `nft monitor trace` output.
struct NftMonitorParser {
    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, at position: SourcePosition, emit: (TraceEvent) -> Void)
        -> LineStatus
    {
        .notMine
    }
}
