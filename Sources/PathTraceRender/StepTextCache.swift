import PathTraceCore

/// The text a renderer printed for a step's place (`StepPlaceKey`), to copy the next time a step has
/// the same one: a trace's steps repeat a few hundred places, and on bench-out/t10.log the JSON step
/// writer spent ~250 instructions a step formatting them (issue 10, scripts/icount.sh).
///
/// Direct-mapped (a new key takes its slot from the old one) and bounded: texts go into one arena,
/// and when it is full every entry is dropped and it starts over. So input where nearly every step is
/// a new place (scripts/gen-messy.py's mutated lines) costs a hash and a copy a step, and no memory.
///
/// A value of three pointers, not an object: a class's reference read out of the writer was a retain
/// and a release a walk (~40 instructions, issue 10, scripts/icount.sh). The writer deallocates it.
struct StepTextCache {
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
    /// Bytes of the arena in use.
    private let used: UnsafeMutablePointer<Int>

    init() {
        entries = .allocate(capacity: StepTextCache.slots)
        arena = .allocate(capacity: StepTextCache.arenaSize)
        used = .allocate(capacity: 1)
        clear()
    }

    func deallocate() {
        entries.deallocate()
        arena.deallocate()
        used.deallocate()
    }

    private func clear() {
        let free = StepPlaceKey(names: 0, interfaces: 0, rule: 0, codes: 0)
        entries.initialize(repeating: Entry(key: free, offset: 0, count: 0), count: StepTextCache.slots)
        used.pointee = 0
    }

    /// Two multiplies: the names spread, the interfaces, the rule (turned to the high half) and the
    /// small codes folded in, and the top bits of the product taken (four multiplies and a shift-xor
    /// were ~6 instructions a step more, issue 10, scripts/icount.sh).
    @inline(__always) private func slot(_ key: StepPlaceKey) -> UnsafeMutablePointer<Entry> {
        let rule = key.rule << 32 | key.rule >> 32
        let h = ((key.names &* 0x9E37_79B9_7F4A_7C15) ^ key.interfaces ^ rule ^ key.codes) &* 0xBF58_476D_1CE4_E5B9
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
        if used.pointee + count > StepTextCache.arenaSize { clear() }
        let at = used.pointee
        (arena + at).update(from: bytes, count: count)
        slot(key).pointee = Entry(key: key, offset: UInt32(at), count: UInt32(count))
        used.pointee = at + count
    }
}
