/// The bytes the walk writer printed for a step's origin and file (`,"origin":…,"source":"file:`, by
/// `StepPlaceKey.originFile`), kept from walk to walk: a walk's first step wrote them anew, ~55
/// instructions a walk (issue 10, scripts/icount.sh).
struct OriginText {
    /// One slot; texts longer than its room (long file names) are not kept.
    var runs = KeptText(slots: 1, room: 192)
    private var key: UInt32 = 0

    /// The bytes kept for `key` (an `originFile`, never 0), if they are the last kept.
    @inline(__always) func text(_ key: UInt32) -> UnsafeBufferPointer<UInt8>? {
        key == self.key ? runs.text(0) : nil
    }

    /// Keeps `count` bytes at `text` as those of `key`.
    mutating func keep(_ key: UInt32, _ text: UnsafePointer<UInt8>, count: Int) {
        if runs.keep(0, text, count: count) { self.key = key }
    }
}
