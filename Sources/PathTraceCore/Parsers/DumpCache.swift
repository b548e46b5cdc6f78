import Foundation

/// Packet dumps (the nf_log text after a TRACE head) already parsed, with what they gave the event.
///
/// One packet's TRACE records repeat its dump at every rule it meets until NAT or routing changes it,
/// so three lines in five of the benchmark file (scripts/bench-replay.sh) carry a dump seen a few
/// lines before: a hash of some of its words and a `memcmp` replace the scan and the name lookups (callgrind,
/// `replay --format json` of its 35,727-line head). A dump's result depends on its bytes alone — the
/// scanner starts fresh at the head's end and reads nothing before it — so equal bytes give an equal
/// result; only dumps without a glued record after them are kept.
final class DumpCache {
    /// What a record's dump gives its event, names resolved.
    struct Result {
        /// `name`'s slot in an event: none for nil, `NameSlot.boxed` when it is not in the table.
        @inline(__always) static func slot(_ name: Name?) -> NameSlot {
            guard let name else { return .none }
            return NameSlot.of(name) ?? .boxed
        }

        var ebt = false
        var arp = false
        var sawMAC = false
        var inIface: Name?
        var outIface: Name?
        var physIn: Name?
        var physOut: Name?
        /// The four names' slots in an event (`NameSlot.boxed` for a name not in the table), so
        /// `emitEvent` sets them without copying the names (callgrind, /tmp/icount.sh on t10).
        var inSlot = NameSlot.none
        var outSlot = NameSlot.none
        var physInSlot = NameSlot.none
        var physOutSlot = NameSlot.none
        var hasHeader = false
        var header = PacketHeader()
    }

    /// Two ways per set, the least recently used one replaced: 64 direct-mapped slots let a third
    /// of the repeated dumps of the benchmark file be evicted by another before they came back (21,372
    /// hits on t10's 35,728 lines; 22,9xx with two ways, 23,055 for an unbounded cache).
    private static let setBits = 6
    private static let slots = 2 << setBits
    /// The longest dump kept (the kernel prints at most 1019 bytes a record, TRACE dumps ~300).
    static let maxLength = 512
    private let bytes: UnsafeMutablePointer<UInt8>
    /// The length of each slot's dump (0: empty) and its hash.
    private let lengths: UnsafeMutablePointer<Int>
    private let hashes: UnsafeMutablePointer<UInt64>
    /// Per set, the way `store` replaces next (the one not used last).
    private let victims: UnsafeMutablePointer<UInt8>
    /// Each slot's result, then `scratch`.
    let results: UnsafeMutablePointer<Result>
    /// The index of the result of a record that is not cached (it has a glued record after it).
    static let scratch = slots

    init() {
        let count = DumpCache.slots
        bytes = .allocate(capacity: count * DumpCache.maxLength)
        lengths = .allocate(capacity: count)
        lengths.initialize(repeating: 0, count: count)
        hashes = .allocate(capacity: count)
        hashes.initialize(repeating: 0, count: count)
        victims = .allocate(capacity: count / 2)
        victims.initialize(repeating: 0, count: count / 2)
        results = .allocate(capacity: count + 1)
        results.initialize(repeating: Result(), count: count + 1)
    }

    deinit {
        bytes.deallocate()
        lengths.deallocate()
        hashes.deallocate()
        victims.deallocate()
        results.deinitialize(count: DumpCache.slots + 1)
        results.deallocate()
    }

    /// Where the dump `s..<e` of the line at `p` is or would go: its slot, whether it is there, and
    /// its hash (for `store`); slot -1 when it is too long or empty.
    @inline(__always) func find(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> (slot: Int, hit: Bool, hash: UInt64) {
        let len = e - s
        if len <= 0 || len > DumpCache.maxLength { return (-1, false, 0) }
        let base = UnsafeRawPointer(p + s)
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        var h = UInt64(len)
        if len >= 64 {
            // Ten words spread over the dump pick the slot (the `memcmp` below checks every byte): the
            // first (`IN=`), two at each quarter mark and four at the end, where ports, sequence
            // numbers and flags differ from packet to packet. On the benchmark file this hits as often
            // as hashing every word, for a third of the instructions.
            @inline(__always) func word(_ at: Int) -> UInt64 { base.loadUnaligned(fromByteOffset: at, as: UInt64.self) }
            let q = len >> 2
            h = (h ^ word(0)) &* k
            h = (h ^ word(q - 8)) &* k
            h = (h ^ word(q)) &* k
            h = (h ^ word(2 &* q - 8)) &* k
            h = (h ^ word(2 &* q)) &* k
            h = (h ^ word(3 &* q - 8)) &* k
            h = (h ^ word(3 &* q)) &* k
            h = (h ^ word(len - 24)) &* k
            h = (h ^ word(len - 16)) &* k
            h = (h ^ word(len - 8)) &* k
        } else {
            var j = 0
            while j &+ 8 <= len {
                h = (h ^ base.loadUnaligned(fromByteOffset: j, as: UInt64.self)) &* k
                j &+= 8
            }
            if j < len { h = (h ^ Byte.load(p + s + j, len - j)) &* k }
        }
        let set = Int(truncatingIfNeeded: h >> UInt64(64 - DumpCache.setBits))
        var slot = set &* 2
        if holds(slot, h, len, base) {
            victims[set] = 1
            return (slot, true, h)
        }
        if holds(slot &+ 1, h, len, base) {
            victims[set] = 0
            return (slot &+ 1, true, h)
        }
        slot &+= Int(victims[set])
        return (slot, false, h)
    }

    @inline(__always) private func holds(_ slot: Int, _ h: UInt64, _ len: Int, _ base: UnsafeRawPointer) -> Bool {
        hashes[slot] == h && lengths[slot] == len && memcmp(bytes + slot &* DumpCache.maxLength, base, len) == 0
    }

    /// Keeps the dump `s..<e` in `slot` (from `find`); its result goes to `results[slot]`.
    func store(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, slot: Int, hash: UInt64) {
        (bytes + slot &* DumpCache.maxLength).update(from: p + s, count: e - s)
        lengths[slot] = e - s
        hashes[slot] = hash
        victims[slot >> 1] = UInt8(truncatingIfNeeded: ~slot & 1)
    }
}
