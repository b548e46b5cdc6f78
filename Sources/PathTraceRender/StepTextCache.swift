import PathTraceCore

/// The text a renderer printed for a step's place (`StepPlaceKey`), to copy the next time a step has
/// the same one: a trace's steps repeat a few hundred places, and on /tmp/t10.log the JSON step
/// writer spent ~250 instructions a step formatting them (issue 10, /tmp/icount.sh).
///
/// Direct-mapped (a new key takes its slot from the old one) and bounded: texts go into one arena,
/// and when it is full every entry is dropped and it starts over. So input where nearly every step is
/// a new place (scripts/gen-messy.py's mutated lines) costs a hash and a copy a step, and no memory.
final class StepTextCache {
    struct Entry {
        var key: StepPlaceKey
        var offset: UInt32
        var count: UInt32
    }

    private static let slots = 2048
    private static let arenaSize = 1 << 18
    /// Texts longer than this (long rule texts) are not kept.
    static let longest = 1024

    private let entries: UnsafeMutablePointer<Entry>
    private let arena: UnsafeMutablePointer<UInt8>
    private var used = 0

    init() {
        entries = .allocate(capacity: StepTextCache.slots)
        arena = .allocate(capacity: StepTextCache.arenaSize)
        clear()
    }

    deinit {
        entries.deallocate()
        arena.deallocate()
    }

    private func clear() {
        let free = StepPlaceKey(names: 0, interfaces: 0, rule: 0, codes: 0)
        entries.initialize(repeating: Entry(key: free, offset: 0, count: 0), count: StepTextCache.slots)
        used = 0
    }

    @inline(__always) private func slot(_ key: StepPlaceKey) -> UnsafeMutablePointer<Entry> {
        var h = key.names &* 0x9E37_79B9_7F4A_7C15
        h ^= key.interfaces &* 0xC2B2_AE3D_27D4_EB4F
        h ^= key.rule &* 0x1656_67B1_9E37_79F9
        h ^= key.codes
        h = (h ^ (h >> 29)) &* 0xBF58_476D_1CE4_E5B9
        return entries + Int(truncatingIfNeeded: h >> 53)
    }

    /// The text kept for `key`, if any (valid until the next `keep`).
    @inline(__always) func text(_ key: StepPlaceKey) -> UnsafeBufferPointer<UInt8>? {
        let e = slot(key)
        guard e.pointee.key == key else { return nil }
        return UnsafeBufferPointer(start: arena + Int(e.pointee.offset), count: Int(e.pointee.count))
    }

    /// Keeps `count` bytes at `bytes` as the text of `key`.
    func keep(_ key: StepPlaceKey, _ bytes: UnsafePointer<UInt8>, count: Int) {
        guard count <= StepTextCache.longest else { return }
        if used + count > StepTextCache.arenaSize { clear() }
        (arena + used).update(from: bytes, count: count)
        slot(key).pointee = Entry(key: key, offset: UInt32(used), count: UInt32(count))
        used += count
    }
}
