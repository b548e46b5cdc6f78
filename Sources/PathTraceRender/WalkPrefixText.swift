import PathTraceCore

/// The bytes the walk writer printed from `,"family":` to `,"reply_to":` for a walk in no named
/// namespace and sure of its verdict, by family, path and verdict (80 kinds): copied in one run where
/// six fields were written one by one, ~100 instructions a walk (issue 10, /tmp/icount.sh).
///
/// A value in the writer, not an object (no retain and release a walk); the writer deallocates it.
struct WalkPrefixText {
    /// Room for each kind's text (the longest is under 110 bytes).
    private static let room = 128
    private static let kinds = 4 * 5 * 4

    /// Made on the first `keep`: writers that print no walk (a timeline's String) need none.
    private var bytes: UnsafeMutablePointer<UInt8>?
    /// Each kind's byte count; 0 while it has none kept.
    let counts: UnsafeMutablePointer<Int> = {
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: WalkPrefixText.kinds)
        counts.initialize(repeating: 0, count: WalkPrefixText.kinds)
        return counts
    }()

    func deallocate() {
        bytes?.deallocate()
        counts.deallocate()
    }

    /// The kind of `walk`'s text, when it is one kept here (no netns, confidence 1).
    @inline(__always) static func kind(_ walk: PacketWalk) -> Int? {
        guard walk.netns == nil, walk.confidence == 1 else { return nil }
        let family: Int
        switch walk.family {
        case .ipv4: family = 0
        case .ipv6: family = 1
        case .arp: family = 2
        case .bridge: family = 3
        }
        let path: Int
        switch walk.path {
        case .input: path = 0
        case .forward: path = 1
        case .output: path = 2
        case .bridged: path = 3
        case .incomplete: path = 4
        }
        let verdict: Int
        switch walk.verdict {
        case .accept: verdict = 0
        case .drop: verdict = 1
        case .queue: verdict = 2
        case .unknown: verdict = 3
        }
        return (family * 5 + path) * 4 + verdict
    }

    /// The bytes kept for `kind`, if any.
    @inline(__always) func text(_ kind: Int) -> UnsafeBufferPointer<UInt8>? {
        let count = counts[kind]
        guard count > 0 else { return nil }
        return UnsafeBufferPointer(start: bytes.unsafelyUnwrapped + kind * WalkPrefixText.room, count: count)
    }

    /// Keeps `count` bytes at `text` as those of `kind`.
    mutating func keep(_ kind: Int, _ text: UnsafePointer<UInt8>, count: Int) {
        guard count <= WalkPrefixText.room else { return }
        let bytes = self.bytes ?? .allocate(capacity: WalkPrefixText.kinds * WalkPrefixText.room)
        self.bytes = bytes
        (bytes + kind * WalkPrefixText.room).update(from: text, count: count)
        counts[kind] = count
    }
}
