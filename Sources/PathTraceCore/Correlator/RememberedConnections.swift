/// The connections the reply linker remembers: up to `capacity` tuples in a ring, in the order they
/// were remembered, each with the packet that opened its connection, and an index of them per side of
/// NAT (the tuple before it, and after it when its result is known). Once the ring is full, the newest
/// tuple takes the oldest's slot and the oldest is forgotten.
///
/// The tuples live only here; the indexes (`ConnectionTable`) hold ring slots. The linker's lookups read
/// the ring only for a tuple whose tag matches.
struct RememberedConnections {
    /// A remembered tuple: 48 bytes, the stride of the ring.
    struct Record {
        var words: ReplyLinker.FlowWords
        /// The opening packet's number times two, plus one for a tuple after NAT.
        fileprivate var packetAndSide: Int

        var packet: Int { packetAndSide >> 1 }
        var translated: Bool { packetAndSide & 1 != 0 }
    }

    /// How many tuples are remembered at most (`ReplyLinker.maxConnections`).
    var capacity = 65536
    /// The records, `count` of them, in storage that doubles up to `capacity` (plain words: nothing to
    /// destroy). Not an Array: the indexes read it by pointer while they change.
    private final class Storage {
        var records: UnsafeMutablePointer<Record>
        var allocated: Int
        var count = 0

        init() {
            allocated = 64
            records = .allocate(capacity: allocated)
        }

        /// Appends below `limit` records.
        func append(_ record: Record, limit: Int) {
            if count == allocated {
                allocated = min(2 * allocated, limit)
                let larger = UnsafeMutablePointer<Record>.allocate(capacity: allocated)
                larger.moveInitialize(from: records, count: count)
                records.deallocate()
                records = larger
            }
            (records + count).initialize(to: record)
            count += 1
        }

        deinit { records.deallocate() }
    }

    private let ring = Storage()
    /// The oldest record, once the ring is full.
    private var head = 0
    private var before = ConnectionTable()
    private var after = ConnectionTable()

    /// Whether a tuple before NAT, or after it, is remembered (an empty index is not hashed into: a log
    /// without NAT keeps both empty).
    var hasBefore: Bool { !before.isEmpty }
    var hasAfter: Bool { !after.isEmpty }

    /// The packet that opened the connection whose tuple before NAT (`translated`: after NAT) is `key`.
    @inline(__always) func opener(_ key: ReplyLinker.FlowWords, translated: Bool) -> Int? {
        let records = UnsafePointer(ring.records)
        guard let slot = translated ? after.slot(of: key, in: records) : before.slot(of: key, in: records)
        else { return nil }
        return records[slot].packet
    }

    /// Starts loading where the lookup of `key` on its side begins.
    @inline(__always) func prefetch(_ key: ReplyLinker.FlowWords, translated: Bool) {
        if translated { after.prefetch(key) } else { before.prefetch(key) }
    }

    /// Remembers that `packet` opened the connection of `key`; returns the packet of the tuple forgotten
    /// to make room, if one was.
    ///
    /// The same tuple remembered again points its index at the newer record; forgetting either record
    /// forgets the tuple (the index is by tuple, so it keeps no count of records).
    mutating func remember(_ key: ReplyLinker.FlowWords, _ packet: Int, translated: Bool) -> Int? {
        let record = Record(words: key, packetAndSide: packet << 1 | (translated ? 1 : 0))
        if ring.count < capacity {
            ring.append(record, limit: capacity)
            set(key, slot: ring.count - 1, translated: translated)
            return nil
        }
        guard ring.count > 0 else { return packet }
        let slot = head
        head = (head + 1) % ring.count
        let old = ring.records[slot]
        // The oldest goes first: the index compares with the ring, whose slot still holds it. A tuple
        // remembered again on the side it is forgotten from stays forgotten.
        if old.translated {
            after.remove(old.words, in: ring.records)
        } else {
            before.remove(old.words, in: ring.records)
        }
        ring.records[slot] = record
        if !(old.words == key && old.translated == translated) { set(key, slot: slot, translated: translated) }
        return old.packet
    }

    @inline(__always) private mutating func set(_ key: ReplyLinker.FlowWords, slot: Int, translated: Bool) {
        if translated {
            after.set(key, slot: slot, in: ring.records)
        } else {
            before.set(key, slot: slot, in: ring.records)
        }
    }
}
