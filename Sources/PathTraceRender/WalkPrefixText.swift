import PathTraceCore

/// The bytes the walk writer printed from `,"family":` to `,"reply_to":` for a walk in no named
/// namespace and sure of its verdict, by family, path and verdict (80 kinds): copied in one run where
/// six fields were written one by one, ~100 instructions a walk (issue 10, scripts/icount.sh). The
/// writer keeps them (`JSONWriter.prefixes`) in a slot per kind.
enum WalkPrefixText {
    /// Each kind's room (the longest text is under 110 bytes).
    static let room = 128
    static let kinds = 4 * 5 * 4

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
}
