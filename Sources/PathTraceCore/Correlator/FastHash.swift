/// A cheap, well-mixed hash for the correlator's internal dictionary keys, used through
/// `_rawHashValue(seed:)` so lookups skip SipHash; every bit of the inputs reaches the low bits
/// the dictionary masks with.
enum FastHash {
    @inline(__always) static func mix(_ a: UInt64, _ b: UInt64, seed: Int) -> Int {
        var h = (a ^ UInt64(bitPattern: Int64(seed))) &* 0x9E37_79B9_7F4A_7C15
        h = (h ^ (h >> 29) ^ b) &* 0xBF58_476D_1CE4_E5B9
        h ^= h >> 32
        h = h &* 0x94D0_49BB_1331_11EB
        return Int(bitPattern: UInt(h ^ (h >> 29)))
    }
}
