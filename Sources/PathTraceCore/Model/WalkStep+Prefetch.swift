import CPrefetch

extension Array where Element == WalkStep {
    /// Starts loading every cache line of the steps, so that reading them does not wait on one miss
    /// after another.
    ///
    /// A walk's steps are read back cold twice: when the walk closes (it sat idle for the correlator's
    /// window while thousands of other events went by) and when it is printed (held until the walks
    /// before it were, and for the reply to its NAT). A 6-step walk is 17 lines of 64 bytes. On the
    /// 1,000,000-line benchmark file, cachegrind (1 MB last-level cache) counted 1.58 M misses in the
    /// analyzer and 2.79 M in the printer, about 27 a walk, and `perf` put a third of the analyzer's
    /// samples on its first read of a step's kind.
    @inline(__always) public func prefetch() {
        withUnsafeBytes { pathtrace_prefetch($0.baseAddress, $0.count) }
    }
}
