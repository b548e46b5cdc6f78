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

    /// Seconds from an integer part and `digits` fractional digits, rounded exactly like parsing the
    /// decimal text would be whenever the value fits in 53 bits.
    static func seconds(_ whole: UInt64, _ frac: UInt64, _ digits: Int) -> Double {
        var scale: UInt64 = 1
        var k = 0
        while k < digits {
            scale &*= 10
            k += 1
        }
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
    @inline(__always) private static func word(_ p: UnsafePointer<UInt8>, _ count: Int, _ readable: Int) -> UInt64 {
        if readable >= 8 {
            let w = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
            return count >= 8 ? w : w & ((1 << (UInt64(count) &* 8)) &- 1)
        }
        return Byte.load(p, count)
    }
}

/// Remembers the last `extra` list built, so consecutive records of one packet share one array.
struct ExtraCache {
    private var lengths: [Int] = []
    private var bytes: [UInt8] = []
    private var value: [String] = []

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
