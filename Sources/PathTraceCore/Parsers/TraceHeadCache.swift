/// TRACE heads (`table:chain:type:rulenum`) already read, with their names and hook.
///
/// A legacy TRACE log repeats a few dozen heads, so the token after `TRACE: ` is looked up by its
/// bytes instead of being classified and its two names interned again: a hit is a hash and five word
/// compares, where `classify` and the two names cost about 450 instructions a line (callgrind,
/// `replay --format json` of the 35,727-line head of scripts/bench-replay.sh's file). `classify`
/// reads nothing outside the token, so equal bytes give an equal head. Two ways per set: 14 heads in
/// 64 direct-mapped slots collided and missed one line in five.
final class TraceHeadCache {
    /// A head's ranges relative to the token's start.
    struct Shape {
        var tableEnd: Int
        var chainStart: Int
        var chainEnd: Int
        var kind: StepKind
        var number: Int
        /// The token's end.
        var end: Int
    }

    private static let setBits = 6
    private static let slots = 2 << setBits
    /// The longest token cached (four words).
    static let maxLength = 32
    /// The entry past the slots: a head that is not cached (read from the line, or too long), for
    /// as long as its record is parsed. Every head is an entry, so the parser carries a head as two
    /// words (entry and token start) instead of a 9-word `TraceHead` returned and copied through
    /// memory (callgrind, scripts/icount.sh on t10).
    let spare = TraceHeadCache.slots
    /// Five words per slot: four data words and the length (0: empty).
    private let keys: UnsafeMutablePointer<UInt64>
    private let shapes: UnsafeMutablePointer<Shape>
    private let tables: UnsafeMutablePointer<Name>
    private let chains: UnsafeMutablePointer<Name>
    private let hooks: UnsafeMutablePointer<Hook?>
    /// The names' slots in an event (`NameSlot.boxed`: not in the name table).
    private let nameSlots: UnsafeMutablePointer<(table: NameSlot, chain: NameSlot)>

    init() {
        let count = TraceHeadCache.slots + 1
        keys = .allocate(capacity: 5 * TraceHeadCache.slots)
        keys.initialize(repeating: 0, count: 5 * TraceHeadCache.slots)
        shapes = .allocate(capacity: count)
        shapes.initialize(
            repeating: Shape(tableEnd: 0, chainStart: 0, chainEnd: 0, kind: .rule, number: 0, end: 0), count: count)
        tables = .allocate(capacity: count)
        tables.initialize(repeating: .empty, count: count)
        chains = .allocate(capacity: count)
        chains.initialize(repeating: .empty, count: count)
        hooks = .allocate(capacity: count)
        hooks.initialize(repeating: nil, count: count)
        nameSlots = .allocate(capacity: count)
        nameSlots.initialize(repeating: (.boxed, .boxed), count: count)
    }

    deinit {
        let count = TraceHeadCache.slots + 1
        keys.deallocate()
        shapes.deallocate()
        tables.deinitialize(count: count)
        tables.deallocate()
        chains.deinitialize(count: count)
        chains.deallocate()
        hooks.deallocate()
        nameSlots.deallocate()
    }

    /// The token's words, or nil when it is empty or too long to cache.
    @inline(__always) private static func words(_ p: UnsafePointer<UInt8>, _ s: Int, _ e: Int, _ n: Int)
        -> (UInt64, UInt64, UInt64, UInt64)?
    {
        let len = e - s
        if len <= 0 || len > maxLength { return nil }
        let base = p + s
        let readable = n - s
        return (
            NameCache.word(base, len, readable), len > 8 ? NameCache.word(base + 8, len - 8, readable - 8) : 0,
            len > 16 ? NameCache.word(base + 16, len - 16, readable - 16) : 0,
            len > 24 ? NameCache.word(base + 24, len - 24, readable - 24) : 0
        )
    }

    /// The token at `base` (33 bytes readable) up to its first space: its zero-padded words and length,
    /// or nil when it is empty or has no space within 32 bytes (longer than `maxLength`).
    @inline(__always) private static func token(_ base: UnsafePointer<UInt8>)
        -> (words: (UInt64, UInt64, UInt64, UInt64), length: Int)?
    {
        let raw = UnsafeRawPointer(base)
        @inline(__always) func load(_ k: Int) -> UInt64 {
            UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: k, as: UInt64.self))
        }
        // The exact zero-byte test (no false positives after a zero): bit 7 of each byte of a space.
        @inline(__always) func spaces(_ w: UInt64) -> UInt64 {
            let x = w ^ 0x2020_2020_2020_2020
            return ~(((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | x | 0x7F7F_7F7F_7F7F_7F7F)
        }
        // The bytes of `w` before its first space, the rest zero.
        @inline(__always) func below(_ w: UInt64, _ m: UInt64) -> (UInt64, Int) {
            let k = m.trailingZeroBitCount >> 3
            return (k == 0 ? 0 : w & (UInt64.max >> UInt64((8 &- k) &* 8)), k)
        }
        let a = load(0)
        let ma = spaces(a)
        if ma != 0 {
            let (x, k) = below(a, ma)
            return k == 0 ? nil : ((x, 0, 0, 0), k)
        }
        let b = load(8)
        let mb = spaces(b)
        if mb != 0 {
            let (x, k) = below(b, mb)
            return ((a, x, 0, 0), 8 &+ k)
        }
        let c = load(16)
        let mc = spaces(c)
        if mc != 0 {
            let (x, k) = below(c, mc)
            return ((a, b, x, 0), 16 &+ k)
        }
        let d = load(24)
        let md = spaces(d)
        if md != 0 {
            let (x, k) = below(d, md)
            return ((a, b, c, x), 24 &+ k)
        }
        // No space in 32 bytes: a token of exactly 32 is cached too.
        if base[32] == Byte.space { return ((a, b, c, d), 32) }
        return nil
    }

    @inline(__always) private static func set(_ w: (UInt64, UInt64, UInt64, UInt64), _ len: Int) -> Int {
        var h = w.0 ^ (w.1 &* 0xC2B2_AE3D_27D4_EB4F) ^ (w.2 &* 0x1656_67B1_9E37_79F9) ^ (w.3 &* 0x27D4_EB2F_1656_67C5)
        h = (h ^ UInt64(len)) &* 0x9E37_79B9_7F4A_7C15
        return Int(truncatingIfNeeded: h >> UInt64(64 - setBits))
    }

    @inline(__always) private func holds(_ slot: Int, _ w: (UInt64, UInt64, UInt64, UInt64), _ len: Int) -> Bool {
        let k = keys + slot &* 5
        return k[0] == w.0 && k[1] == w.1 && k[2] == w.2 && k[3] == w.3 && k[4] == UInt64(len)
    }

    /// The entry of the head whose token starts at `s` (just past `TRACE: `) if it was seen before,
    /// else -1.
    @inline(__always) func find(_ p: UnsafePointer<UInt8>, _ n: Int, at s: Int) -> Int {
        let e: Int
        let w: (UInt64, UInt64, UInt64, UInt64)
        if s &+ 32 < n {
            // Four words loaded at once and the space found in them: the byte-range scan and the
            // masked loads after it were 170 instructions a line (callgrind, scripts/icount.sh on t10).
            guard let found = TraceHeadCache.token(p + s) else { return -1 }
            (w, e) = (found.words, s &+ found.length)
        } else {
            e = NfLogScanner.spaceOrEnd(p, n, s)
            guard let v = TraceHeadCache.words(p, s, e, n) else { return -1 }
            w = v
        }
        let set = TraceHeadCache.set(w, e &- s)
        var slot = set &* 2
        if !holds(slot, w, e &- s) {
            slot &+= 1
            if !holds(slot, w, e &- s) { return -1 }
        }
        return slot
    }

    /// Keeps `h` (read from the line) in the spare entry and returns that entry.
    func put(_ h: TraceHead) -> Int {
        let s = h.table.start
        shapes[spare] = Shape(
            tableEnd: h.table.end &- s, chainStart: h.chain.start &- s, chainEnd: h.chain.end &- s, kind: h.kind,
            number: h.number, end: h.end &- s)
        return spare
    }

    /// Where the token of entry `entry`, starting at `s`, ends.
    @inline(__always) func end(_ entry: Int, at s: Int) -> Int { s &+ shapes[entry].end }

    /// The kind and rule number of entry `entry`.
    @inline(__always) func rule(_ entry: Int) -> (kind: StepKind, number: Int) {
        (shapes[entry].kind, shapes[entry].number)
    }

    /// The head of entry `entry` whose token starts at `s`.
    func head(_ entry: Int, at s: Int) -> TraceHead {
        let shape = shapes[entry]
        return TraceHead(
            start: s &- 7, table: ByteRange(s, s &+ shape.tableEnd),
            chain: ByteRange(s &+ shape.chainStart, s &+ shape.chainEnd), kind: shape.kind, number: shape.number,
            end: s &+ shape.end)
    }

    /// The names and hook of entry `entry` (its token at `s` of the line at `p`), from the cache or
    /// read and then cached. Inlined for the hit, nearly every line: the call was 45 instructions a
    /// line (callgrind on t10).
    @inline(__always) func names(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ entry: Int, at s: Int, _ cache: inout NameCache
    ) -> (table: Name, chain: Name, hook: Hook?) {
        if entry != spare { return (tables[entry], chains[entry], hooks[entry]) }
        return read(p, n, head(entry, at: s), &cache)
    }

    /// The event slots of a cached entry's names and its hook; nil for the spare entry or when a
    /// name is not in the name table.
    @inline(__always) func slots(_ entry: Int) -> (table: NameSlot, chain: NameSlot, hook: Hook?)? {
        if entry == spare { return nil }
        let s = nameSlots[entry]
        if s.table == .boxed || s.chain == .boxed { return nil }
        return (s.table, s.chain, hooks[entry])
    }

    /// `names` for a head not in the cache: read, then cached.
    @inline(never) private func read(_ p: UnsafePointer<UInt8>, _ n: Int, _ h: TraceHead, _ cache: inout NameCache)
        -> (table: Name, chain: Name, hook: Hook?)
    {
        let table = cache.name(p, h.table, limit: n)
        let chain = cache.name(p, h.chain, limit: n)
        let hook = KernelLogParser.hook(p, h.chain)
        let s = h.table.start
        guard let w = TraceHeadCache.words(p, s, h.end, n) else { return (table, chain, hook) }
        // The newer head takes the first way, the one it displaces the second.
        let first = TraceHeadCache.set(w, h.end - s) &* 2
        (keys + (first + 1) * 5).update(from: keys + first * 5, count: 5)
        shapes[first + 1] = shapes[first]
        tables[first + 1] = tables[first]
        chains[first + 1] = chains[first]
        hooks[first + 1] = hooks[first]
        nameSlots[first + 1] = nameSlots[first]
        let k = keys + first * 5
        k[0] = w.0
        k[1] = w.1
        k[2] = w.2
        k[3] = w.3
        k[4] = UInt64(h.end - s)
        shapes[first] = Shape(
            tableEnd: h.table.end - s, chainStart: h.chain.start - s, chainEnd: h.chain.end - s, kind: h.kind,
            number: h.number, end: h.end - s)
        tables[first] = table
        chains[first] = chain
        hooks[first] = hook
        nameSlots[first] = (NameSlot.of(table) ?? .boxed, NameSlot.of(chain) ?? .boxed)
        return (table, chain, hook)
    }
}
