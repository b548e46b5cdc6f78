import CPrefetch

/// An index of the reply linker's remembered tuples (`RememberedConnections`): a tuple to the slot of
/// the ring that holds it (a Swift Dictionary of `ReplyLinker.FlowKey` cost about 200 instructions per
/// lookup and 600 per insert on bench-out/t10.log, where most walks open a NATed connection).
///
/// Open addressing with linear probing, as `OpenTable`, but each slot also has a one-byte tag (7 bits of
/// the key's hash) in an array of its own, and a probe reads a slot's entry, and then the ring's tuple,
/// only when its tag matches: most probes ask for a connection not there (the linker tries up to four
/// tuples per walk) and read only the tags.
///
/// An entry is the tuple's ring slot and the low half of its hash (where its probe starts, so a removal
/// moves entries back without reading the ring): 8 bytes where the tuple and its packet took 48. With up
/// to `maxConnections` tuples, the two tables' 196,608 entries were 9.4 MB of replay's 18.7 MB heap and a
/// page fault every 85 entries as they grew (valgrind massif and `perf stat` on the 1,000,000-line
/// benchmark file, scripts/bench-replay.sh); the tuples are stored once, in the ring.
struct ConnectionTable {
    typealias Ring = UnsafePointer<RememberedConnections.Record>

    private struct Entry {
        var slot: UInt32
        var hash: UInt32
    }

    /// Owns the slots; the table reads them through the pointers it caches, so a lookup retains nothing.
    private final class Slots {
        /// 0: an empty slot; else 0x80 and the top 7 bits of the key's hash.
        let tags: UnsafeMutablePointer<UInt8>
        /// Initialized where the tag is not 0 (plain words: nothing to destroy).
        let entries: UnsafeMutablePointer<Entry>
        let count: Int

        init(count: Int) {
            self.count = count
            tags = .allocate(capacity: count)
            tags.initialize(repeating: 0, count: count)
            entries = .allocate(capacity: count)
        }

        deinit {
            entries.deallocate()
            tags.deallocate()
        }
    }

    private var slots: Slots
    private var tags: UnsafeMutablePointer<UInt8>
    private var entries: UnsafeMutablePointer<Entry>
    private var mask: Int
    private(set) var count = 0

    init() {
        slots = Slots(count: 64)
        tags = slots.tags
        entries = slots.entries
        mask = 63
    }

    var isEmpty: Bool { count == 0 }

    @inline(__always) private static func tag(_ hash: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: UInt(bitPattern: hash) >> 57) | 0x80
    }

    /// The table slot holding the key, or the empty slot where it would go, and the key's tag and hash.
    @inline(__always) private func find(_ key: ReplyLinker.FlowWords, _ ring: Ring) -> (
        slot: Int, found: Bool, tag: UInt8, hash: Int
    ) {
        let hash = key.hashWord
        let tag = ConnectionTable.tag(hash)
        var i = hash & mask
        while true {
            let t = tags[i]
            if t == 0 { return (i, false, tag, hash) }
            if t == tag && ring[Int(entries[i].slot)].words == key { return (i, true, tag, hash) }
            i = (i &+ 1) & mask
        }
    }

    /// The ring slot that holds `key`.
    @inline(__always) func slot(of key: ReplyLinker.FlowWords, in ring: Ring) -> Int? {
        if count == 0 { return nil }
        let (i, found, _, _) = find(key, ring)
        return found ? Int(entries[i].slot) : nil
    }

    /// Starts loading the tag where a probe for `key` begins (see `ReplyLinker.add`).
    @inline(__always) func prefetch(_ key: ReplyLinker.FlowWords) {
        if count != 0 { pathtrace_prefetch(tags + (key.hashWord & mask), 1) }
    }

    /// Points `key` at ring slot `slot`, which holds it (or is about to).
    mutating func set(_ key: ReplyLinker.FlowWords, slot: Int, in ring: Ring) {
        let (i, found, tag, hash) = find(key, ring)
        entries[i] = Entry(slot: UInt32(truncatingIfNeeded: slot), hash: UInt32(truncatingIfNeeded: hash))
        if found { return }
        tags[i] = tag
        count += 1
        // Three quarters, as a Swift Dictionary: at one half, the two tables of `maxConnections`
        // entries each raised replay's peak RSS from 42 to 60 MB (scripts/bench-replay.sh).
        if 4 * count > 3 * (mask + 1) { grow() }
    }

    /// Forgets `key`, if it is there.
    mutating func remove(_ key: ReplyLinker.FlowWords, in ring: Ring) {
        if count == 0 { return }
        let (i, found, _, _) = find(key, ring)
        if found { remove(at: i) }
    }

    /// Empties slot `slot` and moves back the entries after it that probed past it.
    private mutating func remove(at slot: Int) {
        var hole = slot
        var j = slot
        while true {
            j = (j + 1) & mask
            let t = tags[j]
            if t == 0 { break }
            let h = Int(entries[j].hash) & mask
            // The entry stays when its home lies cyclically in (hole, j].
            let stays = hole <= j ? (hole < h && h <= j) : (hole < h || h <= j)
            if stays { continue }
            tags[hole] = t
            entries[hole] = entries[j]
            hole = j
        }
        tags[hole] = 0
        count -= 1
    }

    /// Twice the slots; each entry goes where its hash starts in the larger table (the half of it kept
    /// is enough below 2^32 slots), with its tag.
    private mutating func grow() {
        let old = slots
        slots = Slots(count: 2 * old.count)
        tags = slots.tags
        entries = slots.entries
        mask = slots.count - 1
        for s in 0..<old.count where old.tags[s] != 0 {
            var i = Int(old.entries[s].hash) & mask
            while tags[i] != 0 { i = (i &+ 1) & mask }
            tags[i] = old.tags[s]
            entries[i] = old.entries[s]
        }
    }
}

/// A packet number (from 1 on) as a table key, hashed so that runs of 16 consecutive numbers share
/// neighbouring slots: walks are numbered in the order they started, and the openers the linker
/// remembers, forgets (the oldest, once `maxConnections` are remembered) and looks up (mostly recent
/// ones, for replies) are close in number, where a mixed hash of each number scattered them over a table
/// of up to 131,072 slots (perf on the 1,000,000-line benchmark file: 44% of `ReplyLinker.add`'s samples
/// on that probe). The runs themselves are spread by an odd multiplier: hashed to itself, a number and
/// one a table's size later collide, and a window of remembered openers wider than the table piled
/// whole runs onto each other (callgrind on bench-out/t10.log: the openers' store cost 5 times as much).
struct PacketNumber: OpenTableKey {
    let value: Int

    @inline(__always) init(_ value: Int) { self.value = value }

    static var vacant: PacketNumber { PacketNumber(0) }
    @inline(__always) var isVacant: Bool { value == 0 }
    @inline(__always) var hashWord: Int { ((value >> 4) &* -0x61C8_8646_80B5_83EB) &<< 4 | (value & 15) }
}

/// The reply linker's openers' NAT types by packet number.
typealias PacketTable<Value> = OpenTable<PacketNumber, Value>
