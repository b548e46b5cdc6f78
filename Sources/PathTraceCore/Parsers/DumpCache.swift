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
        var ebt = false
        var arp = false
        var sawMAC = false
        var interfaces = InterfaceNames()
        var hasHeader = false
        /// The event of this dump's records, its header (when `hasHeader`; else a stale one) kept
        /// here alone: a hit refills only what its TRACE head gives, so the header copy into one
        /// shared event and the box swaps when the dumps took turns go (callgrind, scripts/icount.sh on t10).
        var event = DumpCache.blankEvent
        /// The event's family behind a TRACE head and behind a LOG prefix (`KernelLogParser.resolve`).
        var traceFamily = Family.ipv4
        var logFamily = Family.ipv4
    }

    /// Two ways per set, the least recently used one replaced: 64 direct-mapped slots let a third
    /// of the repeated dumps of the benchmark file be evicted by another before they came back (21,372
    /// hits on t10's 35,728 lines; 22,9xx with two ways, 23,055 for an unbounded cache). The longest
    /// dump kept: the kernel prints at most 1019 bytes a record, TRACE dumps ~300.
    private typealias Slots = TwoWaySlots<Result, 6, 512>
    static var maxLength: Int { Slots.longest }
    private let slots: Slots
    /// Each slot's result, then `scratch` (the slots' own, kept here: every line reads it).
    let results: UnsafeMutablePointer<Result>
    /// The index of the result of a record that is not cached (it has a glued record after it).
    let scratch: Int

    /// An event with the fields no kernel record sets (`template`'s).
    static var blankEvent: TraceEvent {
        TraceEvent(
            source: SourcePosition(file: "", line: 0), origin: .kernelTrace, family: .ipv4, table: "", chain: "",
            kind: .log)
    }

    /// A cache whose events start as `template`.
    init(template: TraceEvent) {
        var empty = Result()
        empty.event = template
        slots = Slots(spare: 1, empty: empty)
        results = slots.results
        scratch = slots.count
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
        let found = slots.find(base, len, h)
        return (found.slot, found.hit, h)
    }

    /// Keeps the dump `s..<e` in `slot` (from `find`); its result goes to `results[slot]`.
    func store(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, slot: Int, hash: UInt64) {
        slots.store(p + s, e - s, slot: slot, hash: hash)
    }
}
