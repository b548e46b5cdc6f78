import Foundation

/// Dump bodies (the nf_log text from `SRC=` to the end of the line) already scanned, with the header
/// and kept tokens they gave; a body that differs from a kept one only in its IPv4 TTL's digits
/// (as many of them) is found too, and takes its own TTL.
///
/// A dump `DumpCache` misses is mostly a packet seen at an earlier hook with its prefix changed
/// (`OUT=` after routing, the MAC gone) and its TTL lowered by routing: on t10 6,904 of the 12,673
/// new dumps have a body seen before but for the TTL, and the body is all of a scan but the prefix
/// (callgrind, scripts/icount.sh on t10). The fast path reads a body from the same state whatever prefix
/// came before it (the prefix sets only the MAC's protocol among the header's fields, which a hit
/// keeps), and reads the TTL as a plain number into its field, so equal bytes give an equal result
/// and a different TTL only that field; only bodies the fast path read to the end of the line are
/// kept, as `TailCache` keeps tails.
final class BodyCache {
    /// What a body gave: the header at its end (never with a box: the fast path copies it as bytes),
    /// up to two kept tokens relative to its start, and where its TTL's digits are (-1: nowhere).
    struct Result {
        var header = PacketHeader()
        var extras: (Int, Int, Int, Int) = (0, 0, 0, 0)
        var extraCount = 0
        var ttlAt = -1
        var ttlLength = 0
    }

    /// The longest body kept (a TCP body with 40 bytes of options is about 260).
    private typealias Slots = TwoWaySlots<Result, 6, 320>
    static var maxLength: Int { Slots.longest }
    private let slots = Slots(empty: Result())
    /// The slots' results, kept here: every scanned body reads it.
    let results: UnsafeMutablePointer<Result>

    init() {
        results = slots.results
    }

    /// Where the body `s..<e` of the line at `p` is or would go: its slot, whether it is there, the
    /// TTL it has when that differs from the kept one's (`NfLogScanner.failed` otherwise), and its
    /// hash (for `store`); slot -1 when it is too long or short to keep.
    @inline(__always) func find(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int)
        -> (slot: Int, hit: Bool, ttl: UInt64, hash: UInt64)
    {
        let len = e &- s
        if len < 64 || len > BodyCache.maxLength { return (-1, false, NfLogScanner.failed, 0) }
        let base = p + s
        let raw = UnsafeRawPointer(base)
        let k: UInt64 = 0x9E37_79B9_7F4A_7C15
        @inline(__always) func word(_ at: Int) -> UInt64 { raw.loadUnaligned(fromByteOffset: at, as: UInt64.self) }
        // Words away from an IPv4 TTL's digits, which never start before byte 53 (`SRC=a.b.c.d DST=`
        // and the shortest `LEN=`, `TOS=`, `PREC=` and `TTL=`) nor end past byte 76: the addresses,
        // then the ports, sequence numbers, flags and options from the end. The slots check the bytes.
        @inline(__always) func late(_ at: Int) -> UInt64 { word(min(max(at, 76), len &- 8)) }
        var h = UInt64(len)
        h = (h ^ word(4)) &* k
        h = (h ^ word(12)) &* k
        h = (h ^ word(20)) &* k
        h = (h ^ word(28)) &* k
        h = (h ^ word(36)) &* k
        h = (h ^ word(44)) &* k
        h = (h ^ late(len &- 72)) &* k
        h = (h ^ late(len &- 56)) &* k
        h = (h ^ late(len &- 40)) &* k
        h = (h ^ late(len &- 24)) &* k
        h = (h ^ word(len &- 8)) &* k
        var ttl = NfLogScanner.failed
        let found = slots.find(len, h) { kept, slot in
            let r = results + slot
            let at = r.pointee.ttlAt
            if at < 0 { return memcmp(kept, base, len) == 0 }
            // The same bytes before and after the TTL, and as many digits of a TTL the fast path takes.
            let after = at &+ r.pointee.ttlLength
            guard memcmp(kept, base, at) == 0, memcmp(kept + after, base + after, len &- after) == 0 else {
                return false
            }
            var j = at
            let v = NfLogScanner.digits(base, len, &j, 0xFF)
            guard v != NfLogScanner.failed && j == after else { return false }
            ttl = v
            return true
        }
        return (found.slot, found.hit, ttl, h)
    }

    /// Keeps the body `s..<e` in `slot` (from `find`); the caller sets its result, whose header must
    /// have no box (the fast path copies kept headers as bytes).
    func store(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, slot: Int, hash: UInt64) {
        slots.store(p + s, e - s, slot: slot, hash: hash)
    }
}
