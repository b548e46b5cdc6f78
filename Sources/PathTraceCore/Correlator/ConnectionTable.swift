/// The reply linker's remembered connections: a packed tuple to the packet number of the walk that
/// opened it (a Swift Dictionary of `ReplyLinker.FlowKey` cost about 200 instructions per lookup and 600
/// per insert on /tmp/t10.log, where most walks open a NATed connection).
///
/// Open addressing with linear probing, as `OpenTable`, but each slot also has a one-byte tag (7 bits of
/// the key's hash) in an array of its own, and a probe reads a slot's 48-byte entry only when its tag
/// matches. The table holds up to `maxConnections` entries (131,072 slots, 6 MB) and is probed at random,
/// so nearly every entry read missed the cache; most probes ask for a connection not there (the linker
/// tries up to four tuples per walk), and now read only the 128 KB of tags. perf on the 1,000,000-line
/// benchmark file: the `OpenTable` lookup was 4.7% of samples, 86% of them on loading the probed key.
struct ConnectionTable {
    private struct Entry {
        var key: ReplyLinker.FlowWords
        var packet: Int
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

    /// The slot holding the key, or the empty slot where it would go, and the key's tag.
    @inline(__always) private func find(_ key: ReplyLinker.FlowWords) -> (slot: Int, found: Bool, tag: UInt8) {
        let hash = key.hashWord
        let tag = ConnectionTable.tag(hash)
        var i = hash & mask
        while true {
            let t = tags[i]
            if t == 0 { return (i, false, tag) }
            if t == tag && entries[i].key == key { return (i, true, tag) }
            i = (i &+ 1) & mask
        }
    }

    subscript(key: ReplyLinker.FlowWords) -> Int? {
        get {
            if count == 0 { return nil }
            let (i, found, _) = find(key)
            return found ? entries[i].packet : nil
        }
        set {
            let (i, found, tag) = find(key)
            if let packet = newValue {
                entries[i] = Entry(key: key, packet: packet)
                if found { return }
                tags[i] = tag
                count += 1
                // Three quarters, as a Swift Dictionary: at one half, the two tables of `maxConnections`
                // entries each raised replay's peak RSS from 42 to 60 MB (scripts/bench-replay.sh).
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
            let t = tags[j]
            if t == 0 { break }
            let h = entries[j].key.hashWord & mask
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

    private mutating func grow() {
        let old = slots
        slots = Slots(count: 2 * old.count)
        tags = slots.tags
        entries = slots.entries
        mask = slots.count - 1
        for s in 0..<old.count where old.tags[s] != 0 {
            let (i, _, tag) = find(old.entries[s].key)
            tags[i] = tag
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
/// whole runs onto each other (callgrind on /tmp/t10.log: the openers' store cost 5 times as much).
struct PacketNumber: OpenTableKey {
    let value: Int

    @inline(__always) init(_ value: Int) { self.value = value }

    static var vacant: PacketNumber { PacketNumber(0) }
    @inline(__always) var isVacant: Bool { value == 0 }
    @inline(__always) var hashWord: Int { ((value >> 4) &* -0x61C8_8646_80B5_83EB) &<< 4 | (value & 15) }
}

/// The reply linker's openers' NAT types by packet number.
typealias PacketTable<Value> = OpenTable<PacketNumber, Value>
