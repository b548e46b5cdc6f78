/// Byte runs the walk writer printed once and copies after, one per numbered slot of `room` bytes
/// (`OriginText`, `WalkPrefixText`).
///
/// A value in the writer, not an object: reading a class's object out of the writer was a retain and
/// a release a walk (issue 10, scripts/icount.sh). The writer deallocates it.
struct KeptText {
    private let room: Int
    /// Made on the first `keep`: writers that print no walk (a timeline's String) need none.
    private var bytes: UnsafeMutablePointer<UInt8>?
    private let slots: Int
    /// Each slot's byte count; 0 while it has none kept.
    private let counts: UnsafeMutablePointer<Int>

    init(slots: Int, room: Int) {
        self.slots = slots
        self.room = room
        counts = .allocate(capacity: slots)
        counts.initialize(repeating: 0, count: slots)
    }

    func deallocate() {
        bytes?.deallocate()
        counts.deallocate()
    }

    /// The bytes kept in `slot`, if any.
    @inline(__always) func text(_ slot: Int) -> UnsafeBufferPointer<UInt8>? {
        let count = counts[slot]
        guard count > 0 else { return nil }
        return UnsafeBufferPointer(start: bytes.unsafelyUnwrapped + slot &* room, count: count)
    }

    /// Keeps `count` bytes at `text` in `slot`; whether they fit its room (else it keeps what it had).
    @discardableResult mutating func keep(_ slot: Int, _ text: UnsafePointer<UInt8>, count: Int) -> Bool {
        guard count > 0, count <= room else { return false }
        let bytes = self.bytes ?? .allocate(capacity: slots * room)
        self.bytes = bytes
        (bytes + slot &* room).update(from: text, count: count)
        counts[slot] = count
        return true
    }
}
