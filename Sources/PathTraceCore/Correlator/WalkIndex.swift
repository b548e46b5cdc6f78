/// The stitcher's open walks by invariant key (the first walk of each key's chain), in an `OpenTable`
/// of the packed key: a Swift Dictionary cost over 100 instructions per lookup and about 270 per
/// insert (callgrind, `replay --format json` of /tmp/t10.log, a 10 MB head of the benchmark).
struct WalkIndex {
    /// `ipID << 32 | seq`, then `length << 8 | proto` with the top bit set (0 marks an empty slot).
    struct Key: OpenTableKey {
        let a: UInt64
        let b: UInt64

        @inline(__always) init(_ key: InvariantKey) {
            a = UInt64(key.ipID) << 32 | UInt64(key.seq)
            b = UInt64(key.length) << 8 | UInt64(key.proto) | 1 << 63
        }

        private init(a: UInt64, b: UInt64) {
            self.a = a
            self.b = b
        }

        static var vacant: Key { Key(a: 0, b: 0) }
        @inline(__always) var isVacant: Bool { b == 0 }
        /// Two multiplies, the high half of the second taken: the table masks the low bits, and every
        /// event probes (`FastHash.mix`'s three rounds cost 8 instructions more; callgrind,
        /// `replay --format json` of /tmp/t10.log). Only lookups depend on it, never an order.
        @inline(__always) var hashWord: Int {
            let h = (a &* 0x9E37_79B9_7F4A_7C15 ^ b) &* 0xBF58_476D_1CE4_E5B9
            return Int(truncatingIfNeeded: h >> 32)
        }
    }

    private var table = OpenTable<Key, OpenWalk>(fill: 2)

    var count: Int { table.count }

    /// The first walk of `key`, unretained: valid while the index holds it.
    @inline(__always) func first(_ key: InvariantKey) -> Unmanaged<OpenWalk>? {
        guard let walk = table.value(Key(key)) else { return nil }
        return Unmanaged.passUnretained(walk.pointee)
    }

    /// Makes `walk` the first of `key`'s chain; returns the walk that was.
    mutating func push(_ walk: OpenWalk, _ key: InvariantKey) -> OpenWalk? {
        table.exchange(Key(key), walk)
    }

    /// When `walk` is the first of `key`'s chain, makes `next` the first (nil: the key has none left)
    /// and returns true.
    mutating func replaceFirst(_ walk: OpenWalk, _ key: InvariantKey, with next: OpenWalk?) -> Bool {
        table.replace(Key(key), ifItIs: walk, with: next)
    }

    subscript(key: InvariantKey) -> OpenWalk? {
        get { table[Key(key)] }
        set { table[Key(key)] = newValue }
    }
}
