/// The stitcher's open walks by invariant key (the first walk of each key's chain): an open-addressing
/// table of the packed key, where a Swift Dictionary cost over 100 instructions per lookup and about
/// 270 per insert (callgrind, `replay --format json` of /tmp/t10.log, a 10 MB head of the benchmark).
///
/// Linear probing; a removal shifts the entries after it back, so no tombstones pile up.
struct WalkIndex {
    /// Owns the slots; the index reads them through the pointers it caches, so a lookup retains no
    /// array (a table of arrays cost 85 instructions per lookup, most of it retains and releases).
    private final class Slots {
        /// Two words per slot: the key's `ipID << 32 | seq`, then `length << 8 | proto` with the top bit
        /// set (0 marks an empty slot).
        let keys: UnsafeMutablePointer<UInt64>
        let walks: UnsafeMutablePointer<OpenWalk?>
        let count: Int

        init(count: Int) {
            self.count = count
            keys = .allocate(capacity: 2 * count)
            keys.initialize(repeating: 0, count: 2 * count)
            walks = .allocate(capacity: count)
            walks.initialize(repeating: nil, count: count)
        }

        deinit {
            walks.deinitialize(count: count)
            walks.deallocate()
            keys.deallocate()
        }
    }

    private var slots: Slots
    private var keys: UnsafeMutablePointer<UInt64>
    private var walks: UnsafeMutablePointer<OpenWalk?>
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 64) {
        var n = 16
        while n < capacity { n *= 2 }
        slots = Slots(count: n)
        keys = slots.keys
        walks = slots.walks
        mask = n - 1
    }

    @inline(__always) private static func words(_ key: InvariantKey) -> (UInt64, UInt64) {
        (UInt64(key.ipID) << 32 | UInt64(key.seq), UInt64(key.length) << 8 | UInt64(key.proto) | 1 << 63)
    }

    @inline(__always) private func home(_ a: UInt64, _ b: UInt64) -> Int {
        FastHash.mix(a, b, seed: 0) & mask
    }

    /// The slot holding the key, or the empty slot where it would go.
    @inline(__always) private func find(_ a: UInt64, _ b: UInt64) -> (slot: Int, found: Bool) {
        var i = home(a, b)
        while true {
            let kb = keys[2 &* i &+ 1]
            if kb == 0 { return (i, false) }
            if kb == b && keys[2 &* i] == a { return (i, true) }
            i = (i &+ 1) & mask
        }
    }

    /// The first walk of `key`, unretained: valid while the index holds it.
    @inline(__always) func first(_ key: InvariantKey) -> Unmanaged<OpenWalk>? {
        let (a, b) = WalkIndex.words(key)
        let (i, found) = find(a, b)
        guard found, let walk = walks[i] else { return nil }
        return Unmanaged.passUnretained(walk)
    }

    subscript(key: InvariantKey) -> OpenWalk? {
        get {
            let (a, b) = WalkIndex.words(key)
            let (i, found) = find(a, b)
            return found ? walks[i] : nil
        }
        set {
            let (a, b) = WalkIndex.words(key)
            let (i, found) = find(a, b)
            if let walk = newValue {
                if found {
                    walks[i] = walk
                    return
                }
                keys[2 * i] = a
                keys[2 * i + 1] = b
                walks[i] = walk
                count += 1
                if 2 * count > mask + 1 { grow() }
            } else if found {
                remove(at: i)
            }
        }
    }

    /// Empties slot `slot` and moves back the entries after it that probed past it.
    private mutating func remove(at slot: Int) {
        var hole = slot
        var j = slot
        while true {
            j = (j + 1) & mask
            let kb = keys[2 * j + 1]
            if kb == 0 { break }
            let h = home(keys[2 * j], kb)
            // The entry stays when its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if stays { continue }
            keys[2 * hole] = keys[2 * j]
            keys[2 * hole + 1] = kb
            walks[hole] = walks[j]
            hole = j
        }
        keys[2 * hole] = 0
        keys[2 * hole + 1] = 0
        walks[hole] = nil
        count -= 1
    }

    private mutating func grow() {
        let old = slots
        slots = Slots(count: 2 * old.count)
        keys = slots.keys
        walks = slots.walks
        mask = slots.count - 1
        for s in 0..<old.count where old.keys[2 * s + 1] != 0 {
            let (i, _) = find(old.keys[2 * s], old.keys[2 * s + 1])
            keys[2 * i] = old.keys[2 * s]
            keys[2 * i + 1] = old.keys[2 * s + 1]
            walks[i] = old.walks[s]
        }
    }
}
