/// Values by packet number (from 1 on): open addressing, as `WalkIndex`, where a Swift Dictionary cost
/// about 370 instructions per insert (callgrind, `replay --format json` of /tmp/t10.log: the reply
/// linker remembers each opener of a NATed connection).
///
/// Linear probing; a removal shifts the entries after it back, so no tombstones pile up.
struct PacketTable<Value> {
    /// Owns the slots; the table reads them through the pointers it caches, so a lookup retains nothing.
    private final class Slots {
        /// 0 marks an empty slot (packet numbers start at 1).
        let keys: UnsafeMutablePointer<Int>
        /// Initialized where the key is not 0.
        let values: UnsafeMutablePointer<Value>
        let count: Int

        init(count: Int) {
            self.count = count
            keys = .allocate(capacity: count)
            keys.initialize(repeating: 0, count: count)
            values = .allocate(capacity: count)
        }

        deinit {
            for i in 0..<count where keys[i] != 0 { (values + i).deinitialize(count: 1) }
            values.deallocate()
            keys.deallocate()
        }
    }

    private var slots: Slots
    private var keys: UnsafeMutablePointer<Int>
    private var values: UnsafeMutablePointer<Value>
    private var mask: Int
    private(set) var count = 0

    init(capacity: Int = 64) {
        var n = 16
        while n < capacity { n *= 2 }
        slots = Slots(count: n)
        keys = slots.keys
        values = slots.values
        mask = n - 1
    }

    @inline(__always) private func home(_ packet: Int) -> Int {
        FastHash.mix(UInt64(bitPattern: Int64(packet)), 0, seed: 0) & mask
    }

    /// The slot holding the packet, or the empty slot where it would go.
    @inline(__always) private func find(_ packet: Int) -> (slot: Int, found: Bool) {
        var i = home(packet)
        while true {
            let k = keys[i]
            if k == 0 { return (i, false) }
            if k == packet { return (i, true) }
            i = (i &+ 1) & mask
        }
    }

    subscript(packet: Int) -> Value? {
        get {
            if count == 0 { return nil }
            let (i, found) = find(packet)
            return found ? values[i] : nil
        }
        set {
            precondition(packet != 0)
            let (i, found) = find(packet)
            if let value = newValue {
                if found {
                    values[i] = value
                    return
                }
                (values + i).initialize(to: value)
                keys[i] = packet
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
        (values + slot).deinitialize(count: 1)
        var hole = slot
        var j = slot
        while true {
            j = (j + 1) & mask
            let k = keys[j]
            if k == 0 { break }
            let h = home(k)
            // The entry stays when its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if stays { continue }
            keys[hole] = k
            (values + hole).moveInitialize(from: values + j, count: 1)
            hole = j
        }
        keys[hole] = 0
        count -= 1
    }

    private mutating func grow() {
        let old = slots
        slots = Slots(count: 2 * old.count)
        keys = slots.keys
        values = slots.values
        mask = slots.count - 1
        for s in 0..<old.count where old.keys[s] != 0 {
            let (i, _) = find(old.keys[s])
            keys[i] = old.keys[s]
            (values + i).moveInitialize(from: old.values + s, count: 1)
            // Moved out: the old slots' deinit must not destroy it again.
            old.keys[s] = 0
        }
    }
}
