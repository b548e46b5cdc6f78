/// The stitcher's open walks by invariant key (the first walk of each key's chain), in an `OpenTable`
/// of the packed key: a Swift Dictionary cost over 100 instructions per lookup and about 270 per
/// insert (callgrind, `replay --format json` of bench-out/t10.log, a 10 MB head of the benchmark).
struct WalkIndex {
    /// `ipID << 32 | seq`, then `length << 8 | proto` with the top bit set (0 marks an empty slot).
    struct Key: OpenTableKey {
        let a: UInt64
        let b: UInt64

        @inline(__always) init(_ key: InvariantKey) {
            self.init(proto: key.proto, ipID: key.ipID, length: key.length, seq: key.seq)
        }

        @inline(__always) init(proto: UInt8, ipID: UInt32, length: UInt32, seq: UInt32) {
            a = UInt64(ipID) << 32 | UInt64(seq)
            b = UInt64(length) << 8 | UInt64(proto) | 1 << 63
        }

        private init(a: UInt64, b: UInt64) {
            self.a = a
            self.b = b
        }

        static var vacant: Key { Key(a: 0, b: 0) }
        @inline(__always) var isVacant: Bool { b == 0 }
        /// Two multiplies, the high half of the second taken: the table masks the low bits, and every
        /// event probes (`FastHash.mix`'s three rounds cost 8 instructions more; callgrind,
        /// `replay --format json` of bench-out/t10.log). Only lookups depend on it, never an order.
        @inline(__always) var hashWord: Int {
            let h = (a &* 0x9E37_79B9_7F4A_7C15 ^ b) &* 0xBF58_476D_1CE4_E5B9
            return Int(truncatingIfNeeded: h >> 32)
        }
    }

    private var table = OpenTable<Key, OpenWalk>(fill: 2)

    var count: Int { table.count }

    /// The first walk of `key` (not vacant), unretained: valid while the index holds it.
    @inline(__always) func first(_ key: Key) -> Unmanaged<OpenWalk>? {
        guard let walk = table.value(key) else { return nil }
        return Unmanaged.passUnretained(walk.pointee)
    }

    /// Makes `walk` the first of `key`'s chain; returns the walk that was.
    mutating func push(_ walk: OpenWalk, _ key: Key) -> OpenWalk? {
        table.exchange(key, walk)
    }

    /// When `walk` is the first of `key`'s chain, makes `next` the first (nil: the key has none left)
    /// and returns true.
    mutating func replaceFirst(_ walk: OpenWalk, _ key: Key, with next: OpenWalk?) -> Bool {
        table.replace(key, ifItIs: walk, with: next)
    }

    subscript(key: Key) -> OpenWalk? {
        get { table[key] }
        set { table[key] = newValue }
    }
}
