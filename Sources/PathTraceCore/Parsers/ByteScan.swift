/// Byte-level helpers for the text parsers: ASCII constants, small number parsers and a string cache.
///
/// Everything here works on `UnsafePointer<UInt8>` plus `Int` indices so the hot path never builds a
/// `String` or an array per field.
enum Byte {
    static let space: UInt8 = 0x20
    static let tab: UInt8 = 0x09
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A
    static let equal: UInt8 = 0x3D
    static let colon: UInt8 = 0x3A
    static let comma: UInt8 = 0x2C
    static let dot: UInt8 = 0x2E
    static let semicolon: UInt8 = 0x3B
    static let lbracket: UInt8 = 0x5B
    static let rbracket: UInt8 = 0x5D
    static let lparen: UInt8 = 0x28
    static let rparen: UInt8 = 0x29
    static let lt: UInt8 = 0x3C
    static let gt: UInt8 = 0x3E

    @inline(__always) static func isDigit(_ b: UInt8) -> Bool { b &- 0x30 < 10 }

    @inline(__always) static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) &- 0x61 < 26 }

    /// The value of a hex digit, or 0xFF.
    @inline(__always) static func hex(_ b: UInt8) -> UInt8 {
        let d = b &- 0x30
        if d < 10 { return d }
        let l = (b | 0x20) &- 0x61
        if l < 6 { return l &+ 10 }
        return 0xFF
    }

    /// Whether `p[at...]` starts with `literal` (bounded by `n`).
    @inline(__always) static func matches(_ p: UnsafePointer<UInt8>, _ n: Int, _ at: Int, _ literal: StaticString)
        -> Bool
    {
        let count = literal.utf8CodeUnitCount
        if at < 0 || at + count > n { return false }
        let l = literal.utf8Start
        var k = 0
        while k < count {
            if p[at + k] != l[k] { return false }
            k += 1
        }
        return true
    }

    /// Reads up to 8 bytes little-endian (bytes past `count` are zero).
    @inline(__always) static func load(_ p: UnsafePointer<UInt8>, _ count: Int) -> UInt64 {
        if count >= 8 { return UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self)) }
        var v: UInt64 = 0
        var k = 0
        while k < count {
            v |= UInt64(p[k]) << (UInt64(k) &* 8)
            k += 1
        }
        return v
    }

    /// How many of the eight bytes in `w` (the first in the low byte) are digits before the first
    /// other byte, and the number they spell.
    @inline(__always) static func leadingDigits(_ w: UInt64) -> (count: Int, value: UInt64) {
        let a = w ^ 0x3030_3030_3030_3030
        // A byte is a digit when its high nibble is 3 and its low one below 10 (adding 6 carries into
        // bit 4 from 10 on); a carry out of a non-digit only reaches the bytes after it.
        let other = (a & 0xF0F0_F0F0_F0F0_F0F0) | ((a &+ 0x0606_0606_0606_0606) & 0x1010_1010_1010_1010)
        let count = other == 0 ? 8 : other.trailingZeroBitCount >> 3
        if count == 0 { return (0, 0) }
        // Left-align the digits (zeros in front do not change the number), then add pairs, quads, octets.
        var v = a << UInt64((8 - count) &* 8)
        v = (v &* 10 &+ (v >> 8)) & 0x00FF_00FF_00FF_00FF
        v = (v &* 100 &+ (v >> 16)) & 0x0000_FFFF_0000_FFFF
        v = (v &* 10000 &+ (v >> 32)) & 0xFFFF_FFFF
        return (count, v)
    }

    /// 10^k for k in 0...9: a switch the compiler makes a table load (the multiplying loop it
    /// replaces was most of `seconds`, 58 instructions a stamp; callgrind, scripts/icount.sh on t10).
    @inline(__always) static func powerOfTen(_ k: Int) -> UInt64 {
        switch k {
        case 0: return 1
        case 1: return 10
        case 2: return 100
        case 3: return 1000
        case 4: return 10000
        case 5: return 100_000
        case 6: return 1_000_000
        case 7: return 10_000_000
        case 8: return 100_000_000
        case 9: return 1_000_000_000
        default:
            var r: UInt64 = 1
            var i = 0
            while i < k {
                r &*= 10
                i += 1
            }
            return r
        }
    }

    /// `seconds` for at most seven digits on either side of the dot (`KernelLogParser.leadingStamp`):
    /// the total stays below 10^14 < 2^53, so it needs no overflow check (the checks were 8
    /// instructions a line; callgrind, scripts/icount.sh on t10).
    @inline(__always) static func shortSeconds(_ whole: UInt64, _ frac: UInt64, _ digits: Int) -> Double {
        let scale = powerOfTen(digits)
        return Double(whole &* scale &+ frac) / Double(scale)
    }

    /// Seconds from an integer part and `digits` fractional digits, rounded exactly like parsing the
    /// decimal text would be whenever the value fits in 53 bits.
    @inline(__always) static func seconds(_ whole: UInt64, _ frac: UInt64, _ digits: Int) -> Double {
        let scale = powerOfTen(digits)
        let (shifted, o1) = whole.multipliedReportingOverflow(by: scale)
        let (total, o2) = shifted.addingReportingOverflow(frac)
        if !o1 && !o2 && total < (1 << 53) { return Double(total) / Double(scale) }
        return Double(whole) + Double(frac) / Double(scale)
    }
}

/// A half-open byte range `[start, end)` of the current line.
struct ByteRange: Equatable {
    var start: Int
    var end: Int
    @inline(__always) init(_ start: Int, _ end: Int) {
        self.start = start
        self.end = end
    }
    var count: Int { end - start }
}

/// A direct-mapped cache from short byte strings to `Name`s.
///
/// Trace logs repeat the same interface, chain and MAC names on every line; a hit costs a hash and
/// four word compares instead of a UTF-8 check and the name table's lock.
struct NameCache {
    private static let slotBits = 8
    private static let slotCount = 1 << slotBits
    /// Five words per slot: four data words and the length.
    private var keys: [UInt64]
    private var values: [Name]

    init() {
        keys = Array(repeating: .max, count: 5 * NameCache.slotCount)
        values = Array(repeating: .empty, count: NameCache.slotCount)
    }

    mutating func name(_ p: UnsafePointer<UInt8>, _ r: ByteRange, limit: Int) -> Name {
        name(p + r.start, r.count, readable: limit - r.start)
    }

    mutating func string(_ p: UnsafePointer<UInt8>, _ r: ByteRange, limit: Int) -> String {
        name(p, r, limit: limit).string
    }

    /// The name of `len` bytes at `base`; `readable` bytes from `base` may be read (at least
    /// `len`), so short names are loaded as whole words and masked instead of byte by byte.
    mutating func name(_ base: UnsafePointer<UInt8>, _ len: Int, readable: Int) -> Name {
        if len <= 0 { return .empty }
        if len > 32 { return Name(bytes: UnsafeRawBufferPointer(start: base, count: len)) }
        let w0 = NameCache.word(base, len, readable)
        let w1 = len > 8 ? NameCache.word(base + 8, len - 8, readable - 8) : 0
        let w2 = len > 16 ? NameCache.word(base + 16, len - 16, readable - 16) : 0
        let w3 = len > 24 ? NameCache.word(base + 24, len - 24, readable - 24) : 0
        return name(base, len, w0, w1, w2, w3)
    }

    /// The name of `len` (1...32) bytes at `base`, whose zero-padded words are `w0`...`w3`.
    mutating func name(
        _ base: UnsafePointer<UInt8>, _ len: Int, _ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64
    ) -> Name {
        var h = w0 ^ (w1 &* 0xC2B2_AE3D_27D4_EB4F) ^ (w2 &* 0x1656_67B1_9E37_79F9) ^ (w3 &* 0x27D4_EB2F_1656_67C5)
        h = (h ^ UInt64(len)) &* 0x9E37_79B9_7F4A_7C15
        let slot = Int(truncatingIfNeeded: h >> UInt64(64 - NameCache.slotBits))
        let k = slot &* 5
        if keys[k] == w0 && keys[k + 1] == w1 && keys[k + 2] == w2 && keys[k + 3] == w3 && keys[k + 4] == UInt64(len) {
            return values[slot]
        }
        let s = Name(bytes: UnsafeRawBufferPointer(start: base, count: len))
        keys[k] = w0
        keys[k + 1] = w1
        keys[k + 2] = w2
        keys[k + 3] = w3
        keys[k + 4] = UInt64(len)
        values[slot] = s
        return s
    }

    /// `count` (1...) bytes at `p`, zero-padded to a word; a whole word is read when `readable` allows.
    @inline(__always) static func word(_ p: UnsafePointer<UInt8>, _ count: Int, _ readable: Int) -> UInt64 {
        if readable >= 8 {
            let w = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
            return count >= 8 ? w : w & ((1 << (UInt64(count) &* 8)) &- 1)
        }
        return Byte.load(p, count)
    }
}

/// The name one field had last time, checked before `NameCache`.
///
/// A field such as `IN=` or `MAC=` holds the same bytes on most consecutive lines: comparing up to
/// three words with the last ones is a fraction of the cache's hash and probe (callgrind, `replay
/// --format json` of the 35,727-line head of scripts/bench-replay.sh's file).
struct NameMemo {
    private var w0: UInt64 = 0
    private var w1: UInt64 = 0
    private var w2: UInt64 = 0
    private var len = 0
    private var last = Name.empty

    @inline(__always) mutating func name(
        _ p: UnsafePointer<UInt8>, _ r: ByteRange, limit: Int, _ cache: inout NameCache
    ) -> Name {
        let len = r.count
        if len <= 0 || len > 24 { return cache.name(p, r, limit: limit) }
        let base = p + r.start
        let readable = limit - r.start
        let a = NameCache.word(base, len, readable)
        let b = len > 8 ? NameCache.word(base + 8, len - 8, readable - 8) : 0
        let c = len > 16 ? NameCache.word(base + 16, len - 16, readable - 16) : 0
        if len == self.len && a == w0 && b == w1 && c == w2 { return last }
        let fresh = cache.name(base, len, a, b, c, 0)
        w0 = a
        w1 = b
        w2 = c
        self.len = len
        last = fresh
        return fresh
    }
}

/// Remembers the last `extra` list built, so consecutive records of one packet share one array.
struct ExtraCache {
    private var lengths: [Int] = []
    private var bytes: [UInt8] = []
    private var value: [String] = []
    /// `value` alone in a header's box, shared by the headers that have no other rare field: a box of
    /// each header's own, allocated and freed for every record with an `OPT (...)` tail, was 500
    /// instructions a record (callgrind, scripts/icount.sh on t10). Empty until asked for.
    private var box = Rare<RareHeaderFields>()

    /// Sets `header.extra` to the tokens at `ranges` (start/end pairs).
    mutating func set(
        _ header: inout PacketHeader, _ p: UnsafePointer<UInt8>, _ ranges: [Int], limit: Int,
        _ cache: inout NameCache
    ) {
        let list = strings(p, ranges, limit: limit, &cache)
        guard header.rare.isEmpty, !list.isEmpty else {
            header.extra = list
            return
        }
        if box.isEmpty { box.extra = list }
        header.rare = box
    }

    /// `ranges` holds start/end pairs.
    mutating func strings(_ p: UnsafePointer<UInt8>, _ ranges: [Int], limit: Int, _ cache: inout NameCache)
        -> [String]
    {
        let count = ranges.count / 2
        if count == 0 { return [] }
        if count == lengths.count && matchesLast(p, ranges) { return value }
        lengths.removeAll(keepingCapacity: true)
        bytes.removeAll(keepingCapacity: true)
        var out: [String] = []
        out.reserveCapacity(count)
        var k = 0
        while k < count {
            let r = ByteRange(ranges[2 * k], ranges[2 * k + 1])
            out.append(cache.string(p, r, limit: limit))
            lengths.append(r.count)
            bytes.append(contentsOf: UnsafeBufferPointer(start: p + r.start, count: r.count))
            k += 1
        }
        value = out
        box = Rare()
        return out
    }

    private func matchesLast(_ p: UnsafePointer<UInt8>, _ ranges: [Int]) -> Bool {
        bytes.withUnsafeBufferPointer { stored in
            var offset = 0
            var k = 0
            while k < lengths.count {
                let s = ranges[2 * k]
                let len = ranges[2 * k + 1] - s
                if len != lengths[k] { return false }
                guard let base = stored.baseAddress else { return false }
                var j = 0
                while j + 8 <= len {
                    if Byte.load(base + offset + j, 8) != Byte.load(p + s + j, 8) { return false }
                    j += 8
                }
                while j < len {
                    if stored[offset + j] != p[s + j] { return false }
                    j += 1
                }
                offset += len
                k += 1
            }
            return true
        }
    }
}
