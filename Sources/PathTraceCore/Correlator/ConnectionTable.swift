/// The reply linker's remembered connections: a packed tuple to the packet number of the walk that
/// opened it. Open addressing over the tuple's five words, as `WalkIndex`: a Swift Dictionary of
/// `ReplyLinker.FlowKey` cost about 200 instructions per lookup and 600 per insert (callgrind,
/// `replay --format json` of /tmp/t10.log, where most walks open a NATed connection).
///
/// Linear probing; a removal shifts the entries after it back, so no tombstones pile up.
struct ConnectionTable {
    /// A tuple as five words (`ReplyLinker.FlowKey.words`); the last one has its top bit set, so a
    /// slot whose fifth word is 0 is empty.
    typealias Key = (UInt64, UInt64, UInt64, UInt64, UInt64)

    /// Owns the slots; the table reads them through the pointers it caches, so a lookup retains nothing.
    private final class Slots {
        /// Five words per slot.
        let keys: UnsafeMutablePointer<UInt64>
        let packets: UnsafeMutablePointer<Int>
        let count: Int

        init(count: Int) {
            self.count = count
            keys = .allocate(capacity: 5 * count)
            // Only each slot's marker word: the others are written before they are read, and clearing
            // them all (a memset callgrind counts by the byte) cost 0.8 M instructions on /tmp/t10.log.
            for slot in 0..<count { (keys + 5 &* slot + 4).initialize(to: 0) }
            packets = .allocate(capacity: count)
        }

        deinit {
            keys.deallocate()
            packets.deallocate()
        }
    }

    private var slots: Slots
    private var keys: UnsafeMutablePointer<UInt64>
    private var packets: UnsafeMutablePointer<Int>
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 64) {
        var n = 16
        while n < capacity { n *= 2 }
        slots = Slots(count: n)
        keys = slots.keys
        packets = slots.packets
        mask = n - 1
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always) private func home(_ k: Key) -> Int {
        let a = FastHash.mix(k.0, k.1, seed: 0)
        let b = FastHash.mix(k.2 ^ UInt64(bitPattern: Int64(a)), k.3, seed: 0)
        return FastHash.mix(UInt64(bitPattern: Int64(b)), k.4, seed: 0) & mask
    }

    @inline(__always) private func home(at slot: Int) -> Int {
        let p = keys + 5 &* slot
        return home((p[0], p[1], p[2], p[3], p[4]))
    }

    /// The slot holding the key, or the empty slot where it would go.
    @inline(__always) private func find(_ k: Key) -> (slot: Int, found: Bool) {
        var i = home(k)
        while true {
            let p = keys + 5 &* i
            let last = p[4]
            if last == 0 { return (i, false) }
            if last == k.4 && p[0] == k.0 && p[1] == k.1 && p[2] == k.2 && p[3] == k.3 { return (i, true) }
            i = (i &+ 1) & mask
        }
    }

    subscript(key: Key) -> Int? {
        get {
            if count == 0 { return nil }
            let (i, found) = find(key)
            return found ? packets[i] : nil
        }
        set {
            let (i, found) = find(key)
            if let packet = newValue {
                packets[i] = packet
                if found { return }
                let p = keys + 5 * i
                (p[0], p[1], p[2], p[3], p[4]) = key
                count += 1
                // Filled to 3/4, as a Swift Dictionary: at 1/2 the linker's three tables (up to
                // `maxConnections` entries each) raised replay's peak RSS from 42 to 60 MB
                // (scripts/bench-replay.sh, the 1,000,000-line file).
                if 4 * count > 3 * (mask + 1) { grow() }
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
            if keys[5 * j + 4] == 0 { break }
            let h = home(at: j)
            // The entry stays when its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if stays { continue }
            (keys + 5 * hole).update(from: keys + 5 * j, count: 5)
            packets[hole] = packets[j]
            hole = j
        }
        keys[5 * hole + 4] = 0
        count -= 1
    }

    private mutating func grow() {
        let old = slots
        slots = Slots(count: 2 * old.count)
        keys = slots.keys
        packets = slots.packets
        mask = slots.count - 1
        for s in 0..<old.count where old.keys[5 * s + 4] != 0 {
            let o = old.keys + 5 * s
            let (i, _) = find((o[0], o[1], o[2], o[3], o[4]))
            (keys + 5 * i).update(from: o, count: 5)
            packets[i] = old.packets[s]
        }
    }
}
