import Foundation

/// Dump tails (the nf_log text from `PROTO=` to the end of the line) already scanned, with the
/// transport fields and kept tokens they gave.
///
/// A dump `DumpCache` misses is mostly a packet seen before at another hook with its IP part changed
/// (TTL after routing, an address after NAT, `OUT=`): on t10 6,904 of the 12,673 new dumps end in a
/// tail seen before, and the tail is about half of a scan (callgrind, scripts/icount.sh on t10). The
/// scanner reads a tail from the same fresh state whatever came before it (no transport field is set
/// before `PROTO=`), so equal bytes give an equal result; only tails the fast path read to the end
/// of the line are kept.
final class TailCache {
    /// What a tail gave: its transport fields and up to two kept tokens, relative to its start.
    struct Result {
        var transport = PacketHeader.Transport()
        var extras: (Int, Int, Int, Int) = (0, 0, 0, 0)
        var extraCount = 0
    }

    /// The longest tail kept is 256 bytes (a TCP tail with 40 bytes of options is about 190).
    private typealias Slots = TwoWaySlots<Result, 6, 256>
    static var maxLength: Int { Slots.longest }
    private let slots = Slots(empty: Result())
    /// The slots' results, kept here: every scanned tail reads it.
    let results: UnsafeMutablePointer<Result>

    init() {
        results = slots.results
    }

    /// Where the tail `s..<e` of the line at `p` is or would go: its slot, whether it is there, and
    /// its hash (for `store`); slot -1 when it is too long or shorter than a word.
    func find(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int) -> (slot: Int, hit: Bool, hash: UInt64) {
        let len = e &- s
        if len < 8 || len > TailCache.maxLength { return (-1, false, 0) }
        let base = UnsafeRawPointer(p + s)
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        // The ports, sequence numbers and flags that tell packets apart are in the first 64 bytes
        // (after `PROTO=TCP `); the last word and the length cover the options.
        @inline(__always) func word(_ at: Int) -> UInt64 { base.loadUnaligned(fromByteOffset: at, as: UInt64.self) }
        var h = UInt64(len)
        if len >= 64 {
            h = (h ^ word(8)) &* k
            h = (h ^ word(16)) &* k
            h = (h ^ word(24)) &* k
            h = (h ^ word(32)) &* k
            h = (h ^ word(40)) &* k
            h = (h ^ word(48)) &* k
            h = (h ^ word(56)) &* k
        } else {
            var j = 8
            while j &+ 8 <= len {
                h = (h ^ word(j)) &* k
                j &+= 8
            }
        }
        h = (h ^ word(len &- 8)) &* k
        let found = slots.find(base, len, h)
        return (found.slot, found.hit, h)
    }

    /// Keeps the tail `s..<e` in `slot` (from `find`) with what it gave.
    func store(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, slot: Int, hash: UInt64, _ result: Result) {
        slots.store(p + s, e - s, slot: slot, hash: hash)
        results[slot] = result
    }
}
