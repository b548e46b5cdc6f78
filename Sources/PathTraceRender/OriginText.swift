/// The bytes the walk writer printed for a step's origin and file (`,"origin":…,"source":"file:`, by
/// `StepPlaceKey.originFile`), kept from walk to walk: a walk's first step wrote them anew, ~55
/// instructions a walk (issue 10, /tmp/icount.sh).
///
/// A value in the writer, not an object: reading a class's object out of the writer was a retain and a
/// release a walk. The writer deallocates its bytes.
struct OriginText {
    /// Texts longer than this (long file names) are not kept.
    private static let room = 192

    let bytes = UnsafeMutablePointer<UInt8>.allocate(capacity: OriginText.room)
    private var key: UInt32 = 0
    private var count = 0

    /// The bytes kept for `key` (an `originFile`, never 0), if they are the last kept.
    @inline(__always) func text(_ key: UInt32) -> UnsafeBufferPointer<UInt8>? {
        key == self.key ? UnsafeBufferPointer(start: bytes, count: count) : nil
    }

    /// Keeps `count` bytes at `text` as those of `key`.
    mutating func keep(_ key: UInt32, _ text: UnsafePointer<UInt8>, count: Int) {
        guard count <= OriginText.room else { return }
        bytes.update(from: text, count: count)
        self.key = key
        self.count = count
    }
}
