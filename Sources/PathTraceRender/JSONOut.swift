import PathTraceCore

/// A write position inside room a `JSONWriter` reserved: the walk writer's hot path.
///
/// The position is a local value, so the compiler keeps it in a register instead of storing the
/// writer's count after every byte, and fixed-size writes (keys, numbers, addresses) are not checked
/// one by one: every `ensure` leaves `slack` bytes free beyond what it was asked for, and no run of
/// fixed-size writes between two `ensure`s comes near that (a step's longest is under 500 bytes).
/// Writes of variable size (names, texts) call `ensure` themselves. `JSONWriter.commit` ends it.
struct JSONOut {
    var p: UnsafeMutablePointer<UInt8>
    var end: UnsafeMutablePointer<UInt8>
    /// The start of the writer's buffer (it moves when the buffer grows).
    var base: UnsafeMutablePointer<UInt8>
    /// The writer outlives every position it hands out (they live inside one of its callers).
    unowned(unsafe) let writer: JSONWriter

    /// Bytes of fixed-size writes every `ensure` leaves room for.
    static let slack = 1024

    /// Room for `n` more bytes plus `slack`.
    @inline(__always) mutating func ensure(_ n: Int) {
        if end - p < n + JSONOut.slack { writer.grow(&self, room: n + JSONOut.slack) }
    }

    /// Where the next byte goes, counted from the start of the writer's buffer.
    var offset: Int { p - base }

    /// Copies `count` bytes written before, from `offset` on.
    @inline(__always) mutating func repeatBytes(from offset: Int, count: Int) {
        ensure(count)
        // Bytes written before `p`: the runs do not overlap.
        UnsafeMutableRawPointer(p).copyMemory(from: base + offset, byteCount: count)
        p += count
    }

    // MARK: - Bytes

    /// Copies the bytes written from offset `start` to `end`: a short run (a value), within the room
    /// of the last `ensure`. Bytes past the run are copied too, and overwritten next: a port (at most
    /// 8 bytes) as one word, an IPv4 address (at most 32) as four, where `JSONWriter.copy`'s look at
    /// the size was ~8 instructions more a value (a JSON walk's first header, issue 10, scripts/icount.sh).
    @inline(__always) mutating func copyWritten(from start: Int, to end: Int) {
        let n = end &- start
        let src = base + start
        if n <= 8 {
            JSONOut.store(JSONOut.load(src), at: p)
        } else if n <= 32 {
            JSONOut.copy32(p, src)
        } else {
            JSONWriter.copy(p, src, n)
        }
        p += n
    }

    /// Copies `bytes` (kept text of another buffer).
    @inline(__always) mutating func copy(_ bytes: UnsafeBufferPointer<UInt8>) {
        ensure(bytes.count)
        JSONWriter.copy(p, bytes.baseAddress.unsafelyUnwrapped, bytes.count)
        p += bytes.count
    }

    /// Copies kept text of at most `StepTextCache.longest` bytes into room its caller's `ensure` left for
    /// it: one call to memcpy, without `copy`'s `ensure` and look at the size (a JSON step's place, ~13
    /// instructions a step, issue 10, scripts/icount.sh).
    @inline(__always) mutating func copyInRoom(_ bytes: UnsafeBufferPointer<UInt8>) {
        UnsafeMutableRawPointer(p).copyMemory(from: bytes.baseAddress.unsafelyUnwrapped, byteCount: bytes.count)
        p += bytes.count
    }

    /// `copy`, for kept text mostly of 33...64 bytes (a text timeline's place columns, a JSON step's
    /// origin and file): those as two runs of 32 that may overlap, where the call to memcpy was ~35
    /// instructions a text line (issue 10, scripts/icount.sh (text)). Not for every copy: the check costs
    /// the JSON step's longer place text more than it saves.
    @inline(__always) mutating func copyMidsize(_ bytes: UnsafeBufferPointer<UInt8>) {
        let n = bytes.count
        ensure(n)
        let src = bytes.baseAddress.unsafelyUnwrapped
        if n > 32 && n <= 64 {
            JSONOut.copy32(p, src)
            JSONOut.copy32(p + n - 32, src + n - 32)
        } else {
            JSONWriter.copy(p, src, n)
        }
        p += n
    }

    /// 32 bytes from `src` to `dst`, as four words.
    @inline(__always) static func copy32(_ dst: UnsafeMutablePointer<UInt8>, _ src: UnsafePointer<UInt8>) {
        let d = UnsafeMutableRawPointer(dst)
        let s = UnsafeRawPointer(src)
        let a = s.loadUnaligned(as: UInt64.self)
        let b = s.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
        let c = s.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
        let e = s.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        d.storeBytes(of: a, as: UInt64.self)
        d.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
        d.storeBytes(of: c, toByteOffset: 16, as: UInt64.self)
        d.storeBytes(of: e, toByteOffset: 24, as: UInt64.self)
    }

    /// Bytes copied as they are (keys with their quotes, commas and colon; other literals).
    @inline(__always) mutating func raw(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        JSONWriter.copy(p, s.utf8Start, n)
        p += n
    }

    @inline(__always) mutating func byte(_ b: UInt8) {
        p.pointee = b
        p += 1
    }

    /// A quoted ASCII literal (an enum's JSON name).
    @inline(__always) mutating func quoted(_ s: StaticString) {
        let n = s.utf8CodeUnitCount
        p[0] = UInt8(ascii: "\"")
        JSONWriter.copy(p + 1, s.utf8Start, n)
        p[n + 1] = UInt8(ascii: "\"")
        p += n + 2
    }

    @inline(__always) mutating func null() { raw("null") }

    @inline(__always) mutating func bool(_ v: Bool) {
        if v { raw("true") } else { raw("false") }
    }

    // MARK: - Names and texts

    /// The escaped bytes of a name (table, chain, interface, prefix, rule text, note, netns, file),
    /// without quotes: the one place a name's text is written.
    @inline(__always) mutating func nameBody(_ s: String) { textBody(s) }

    /// A quoted name.
    @inline(__always) mutating func name(_ s: String) {
        byte(UInt8(ascii: "\""))
        nameBody(s)
        byte(UInt8(ascii: "\""))
    }

    /// A quoted name, or `null`.
    @inline(__always) mutating func name(_ s: String?) {
        if let s { name(s) } else { null() }
    }

    /// A quoted name of a trace event: its JSON form, escaped once when the name was interned.
    @inline(__always) mutating func name(_ n: Name) {
        let json = n.json
        ensure(json.count)
        JSONWriter.copy(p, json.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self), json.count)
        p += json.count
    }

    /// A quoted name, or `null`.
    @inline(__always) mutating func name(_ n: Name?) {
        if let n { name(n) } else { null() }
    }

    /// The escaped bytes of a name, without quotes.
    @inline(__always) mutating func nameBody(_ n: Name) {
        let json = n.json
        ensure(json.count)
        let body = json.count - 2
        JSONWriter.copy(p, json.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self) + 1, body)
        p += body
    }

    /// A quoted, escaped string that is not a name (sentences, NAT endpoints).
    mutating func text(_ s: String) {
        byte(UInt8(ascii: "\""))
        textBody(s)
        byte(UInt8(ascii: "\""))
    }

    @inline(__always) mutating func text(_ s: String?) {
        if let s { text(s) } else { null() }
    }

    /// The escaped bytes of `s`, without quotes.
    @inline(__always) mutating func textBody(_ s: String) {
        s.withUTF8Bytes { escaped($0) }
    }

    /// Copies `bytes`, escaping what JSON requires; the common case (nothing to escape) is one copy.
    /// Not inlined: each of a String's storage kinds would get its own copy of it.
    @inline(never) mutating func escaped(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let src = bytes.baseAddress else { return }
        let n = bytes.count
        ensure(n)
        if JSONOut.isPlain(src, n) {
            JSONWriter.copy(p, src, n)
            p += n
        } else {
            escapedSlowly(bytes)
        }
    }

    private mutating func escapedSlowly(_ bytes: UnsafeBufferPointer<UInt8>) {
        ensure(6 * bytes.count)
        for b in bytes { JSONEscape.write(b) { byte($0) } }
    }

    /// Whether no byte of `src[0..<n]` needs escaping (a control character, `"` or `\`), eight at a time.
    @inline(__always) static func isPlain(_ src: UnsafePointer<UInt8>, _ n: Int) -> Bool {
        let s = UnsafeRawPointer(src)
        if n >= 8 {
            var i = 0
            while i + 8 <= n {
                if !isPlain(s.loadUnaligned(fromByteOffset: i, as: UInt64.self)) { return false }
                i += 8
            }
            // The last (overlapping) word covers the tail.
            return i == n || isPlain(s.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self))
        }
        if n >= 4 {
            let a = UInt64(s.loadUnaligned(as: UInt32.self))
            let b = UInt64(s.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self))
            return isPlain(a | b << 32)
        }
        for i in 0..<n {
            let b = src[i]
            if b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") { return false }
        }
        return true
    }

    /// Whether no byte of `x` is below 0x20, `"` or `\` (bytes from 0x80 up are UTF-8, copied as
    /// they are). The classic bit tricks: each term is non-zero exactly when some byte matches.
    @inline(__always) static func isPlain(_ x: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let highs: UInt64 = 0x8080_8080_8080_8080
        let control = (x &- ones &* 0x20) & ~x & highs
        let q = x ^ (ones &* UInt64(UInt8(ascii: "\"")))
        let quote = (q &- ones) & ~q & highs
        let b = x ^ (ones &* UInt64(UInt8(ascii: "\\")))
        let backslash = (b &- ones) & ~b & highs
        return control | quote | backslash == 0
    }

    // MARK: - Numbers

    @inline(__always) mutating func integer(_ v: Int) {
        if v < 0 { byte(UInt8(ascii: "-")) }
        unsigned(UInt64(v.magnitude))
    }

    @inline(__always) mutating func integer(_ v: Int?) {
        if let v { integer(v) } else { null() }
    }

    /// An unsigned integer, or `null`.
    @inline(__always) mutating func number<T: FixedWidthInteger & UnsignedInteger>(_ v: T?) {
        if let v { unsigned(UInt64(v)) } else { null() }
    }

    /// Below a million in line, by one or two lookups in `JSONWriter.digits` (ports, lengths, TTLs,
    /// line numbers: most numbers a walk has; ~20 instructions where `eightDigits` took ~35, issue 10,
    /// scripts/icount.sh), the rest by a call.
    @inline(__always) mutating func unsigned(_ v: UInt64) {
        guard v < 1_000_000 else {
            p += JSONOut.unsigned(v, at: p)
            return
        }
        let table = writer.digits
        let high = v / 1000
        let low = v &- high &* 1000
        if high == 0 {
            leading(table[Int(truncatingIfNeeded: low)])
        } else {
            leading(table[Int(truncatingIfNeeded: high)])
            JSONOut.store32(table[Int(truncatingIfNeeded: low)], at: p)
            p += 3
        }
    }

    /// A `JSONWriter.digits` entry without its leading zeros.
    @inline(__always) private mutating func leading(_ entry: UInt64) {
        let zeros = Int(truncatingIfNeeded: entry >> 32) & 0xFF
        JSONOut.store32(entry >> UInt64(8 * zeros), at: p)
        p += 3 &- zeros
    }

    /// `.` and the digits of `micros` (< 10^6) as six fractional digits without their trailing zeros
    /// (at least one), by two lookups in `JSONWriter.digits`.
    @inline(__always) mutating func fraction(_ micros: UInt64) {
        let table = writer.digits
        let high = micros / 1000
        let low = micros &- high &* 1000
        let a = table[Int(truncatingIfNeeded: high)]
        let b = table[Int(truncatingIfNeeded: low)]
        p[0] = UInt8(ascii: ".")
        JSONOut.store32(a, at: p + 1)
        JSONOut.store32(b, at: p + 4)
        let kept = low != 0 ? 6 &- JSONOut.trailingZeros(b) : 3 &- JSONOut.trailingZeros(a)
        p += 1 &+ kept
    }

    /// The three digits of `v` (1...999) without their trailing zeros: the microseconds of a time
    /// whose point and milliseconds were copied.
    @inline(__always) mutating func lastDigits(_ v: UInt64) {
        let entry = writer.digits[Int(truncatingIfNeeded: v)]
        JSONOut.store32(entry, at: p)
        p += 3 &- JSONOut.trailingZeros(entry)
    }

    /// The digits of `v`, copied when they are the writer's last seconds (a text timeline's times
    /// share their seconds for long; the call for a number past a million was ~30 instructions a line,
    /// issue 10, scripts/icount.sh (text)).
    @inline(__always) mutating func seconds(_ v: UInt64) {
        let kept = writer.textSeconds
        if v == kept.seconds {
            JSONOut.store(kept.text.0, at: p)
            JSONOut.store(kept.text.1, at: p + 8)
            p += kept.count
            return
        }
        let n = JSONOut.unsigned(v, at: p)
        // At most 16 digits below 2^64 / 10^6; the words past them are the position's slack.
        writer.textSeconds = SecondsText(seconds: v, text: (JSONOut.load(p), JSONOut.load(p + 8)), count: n)
        p += n
    }

    /// `.` and the six digits of `micros` (< 10^6), zero-padded, by two lookups in `JSONWriter.digits`.
    @inline(__always) mutating func sixDigits(_ micros: UInt64) {
        let table = writer.digits
        let high = micros / 1000
        let low = micros &- high &* 1000
        p[0] = UInt8(ascii: ".")
        JSONOut.store32(table[Int(truncatingIfNeeded: high)], at: p + 1)
        JSONOut.store32(table[Int(truncatingIfNeeded: low)], at: p + 4)
        p += 7
    }

    /// How many trailing zeros a `JSONWriter.digits` entry's three digits have.
    @inline(__always) static func trailingZeros(_ entry: UInt64) -> Int {
        Int(truncatingIfNeeded: entry >> 40) & 0xFF
    }

    /// The low four bytes of `word` at `p`, the lowest first.
    @inline(__always) static func store32(_ word: UInt64, at p: UnsafeMutablePointer<UInt8>) {
        UnsafeMutableRawPointer(p).storeBytes(of: UInt32(truncatingIfNeeded: word).littleEndian, as: UInt32.self)
    }

    /// `"0000…"`: added to a word of digit values, makes them ASCII.
    static let zeros: UInt64 = 0x3030_3030_3030_3030

    /// Decimal digits of `v` at `p` (with room for 8 bytes more than it writes); returns how many.
    static func unsigned(_ v: UInt64, at p: UnsafeMutablePointer<UInt8>) -> Int {
        if v < 100_000_000 {
            if v < 10 {
                p[0] = 48 &+ UInt8(truncatingIfNeeded: v)
                return 1
            }
            // Eight digits with their leading zeros; the zero bytes at the low end are those zeros.
            let digits = eightDigits(v)
            let leading = digits.trailingZeroBitCount / 8
            store((digits &+ zeros) >> UInt64(8 * leading), at: p)
            return 8 - leading
        }
        let high = v / 100_000_000
        let n: Int
        if high < 10 {
            // Nine digits or ten (TCP sequence numbers, a time's seconds): the leading ones without a
            // call (~35 instructions a JSON walk, issue 10, scripts/icount.sh).
            p[0] = 48 &+ UInt8(truncatingIfNeeded: high)
            n = 1
        } else if high < 100 {
            let tens = high / 10
            p[0] = 48 &+ UInt8(truncatingIfNeeded: tens)
            p[1] = 48 &+ UInt8(truncatingIfNeeded: high &- tens &* 10)
            n = 2
        } else {
            n = unsigned(high, at: p)
        }
        store(eightDigits(v &- high &* 100_000_000) &+ zeros, at: p + n)
        return n + 8
    }

    /// Exactly `width` (at least 1) decimal digits of `v` (< 10^width) at `p`, zero-padded (with room
    /// for 8 bytes more).
    static func padded(_ v: UInt64, width: Int, at p: UnsafeMutablePointer<UInt8>) {
        if width <= 8 {
            store((eightDigits(v) &+ zeros) >> UInt64(8 * (8 - width)), at: p)
            return
        }
        // The leading digits first: the last eight, written after, cover the bytes they spill.
        padded(v / 100_000_000, width: width - 8, at: p)
        store(eightDigits(v % 100_000_000) &+ zeros, at: p + width - 8)
    }

    /// The eight decimal digits of `v` (< 10^8) as byte values 0...9, most significant first in memory,
    /// computed in parallel: Paul Khuong's `encode_ten_thousands` (pvk.ca, 2017).
    @inline(__always) static func eightDigits(_ v: UInt64) -> UInt64 {
        let merged = (v / 10_000) | (v % 10_000) << 32
        // Two 4-digit halves at once: / 100 as × 10486 >> 20, then / 10 as × 103 >> 10.
        let top = ((merged &* 10486) >> 20) & (0x7F << 32 | 0x7F)
        let bottom = merged &- 100 &* top
        let hundreds = bottom << 16 &+ top
        var tens = ((hundreds &* 103) >> 10) & (0xF << 48 | 0xF << 32 | 0xF << 16 | 0xF)
        tens &+= (hundreds &- 10 &* tens) << 8
        return tens
    }

    /// The eight bytes at `p` as `store` wrote them.
    @inline(__always) static func load(_ p: UnsafeMutablePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
    }

    /// Eight bytes at `p`, the lowest first.
    @inline(__always) static func store(_ word: UInt64, at p: UnsafeMutablePointer<UInt8>) {
        UnsafeMutableRawPointer(p).storeBytes(of: word.littleEndian, as: UInt64.self)
    }

    /// `v` as 8 lowercase hex digits, zero-padded.
    @inline(__always) mutating func hex8(_ v: UInt32) {
        for k in 0..<8 { p[k] = JSONEscape.hexDigit(UInt8(truncatingIfNeeded: v >> UInt32(28 - 4 * k)) & 15) }
        p += 8
    }

    /// The text Swift's `description` gives for a double (`double(_: Double?)` prints `null` for one
    /// that is not finite).
    mutating func double(_ v: Double) {
        let n = ShortestDecimal.write(v, to: p)
        if n > 0 {
            p += n
            return
        }
        var text = v.description
        text.withUTF8 { escaped($0) }
    }

    /// A finite double, or `null`.
    @inline(__always) mutating func double(_ v: Double?) {
        if let v, v.isFinite { double(v) } else { null() }
    }

    // MARK: - Addresses and flags

    /// A quoted address in the canonical form of `IPAddress.description`.
    @inline(__always) mutating func address(_ a: IPAddress) {
        byte(UInt8(ascii: "\""))
        addressBody(a)
        byte(UInt8(ascii: "\""))
    }

    @inline(__always) mutating func address(_ a: IPAddress?) {
        if let a { address(a) } else { null() }
    }

    /// The address text without quotes; the same bytes as `a.description`.
    @inline(__always) mutating func addressBody(_ a: IPAddress) {
        if a.isV6 {
            p += a.writeText(to: p)
            return
        }
        let v = UInt32(truncatingIfNeeded: a.low)
        let table = writer.octets
        octet(table[Int(v >> 24)], dot: 1)
        octet(table[Int(v >> 16 & 0xFF)], dot: 1)
        octet(table[Int(v >> 8 & 0xFF)], dot: 1)
        octet(table[Int(v & 0xFF)], dot: 0)
    }

    /// An address byte from `JSONWriter.octets` (its digits and a dot, then how many digits), and
    /// the dot when `dot` is 1: a load and a store where computing the digits took ~40 instructions a
    /// byte, ~165 an address (issue 10, scripts/icount.sh: a walk's flow and each new header have two).
    @inline(__always) private mutating func octet(_ entry: UInt64, dot: Int) {
        UnsafeMutableRawPointer(p).storeBytes(of: UInt32(truncatingIfNeeded: entry).littleEndian, as: UInt32.self)
        p += Int(truncatingIfNeeded: entry >> 32) &+ dot
    }

    /// TCP flag names in nf_log order (`TCPFlags.printOrder`), joined by spaces, quoted.
    mutating func tcpFlags(_ flags: TCPFlags) {
        byte(UInt8(ascii: "\""))
        tcpFlagWords(flags)
        byte(UInt8(ascii: "\""))
    }

    /// `addr`, `addr:port`, `[v6]:port` (`Endpoint.description`), or `?` without an address.
    @inline(__always) mutating func endpoint(_ a: IPAddress?, _ port: UInt16?) {
        guard let a else { return byte(UInt8(ascii: "?")) }
        let bracket = port != nil && a.isV6
        if bracket { byte(UInt8(ascii: "[")) }
        addressBody(a)
        if bracket { byte(UInt8(ascii: "]")) }
        if let port {
            byte(UInt8(ascii: ":"))
            unsigned(UInt64(port))
        }
    }

    /// TCP flag names in nf_log order, joined by spaces.
    @inline(__always) mutating func tcpFlagWords(_ flags: TCPFlags) {
        p += JSONOut.tcpFlagWords(flags, at: p)
    }

    /// The words of `tcpFlagWords` at `start`; returns how many bytes. Static, on a pointer: a mutating
    /// call would take the address of its caller's position, which then is stored back after every
    /// write (the JSON header's fields, issue 10, scripts/icount.sh).
    static func tcpFlagWords(_ flags: TCPFlags, at start: UnsafeMutablePointer<UInt8>) -> Int {
        var p = start
        let bits = flags.rawValue
        // The bits of `TCPFlags`, by value: its static members are lazily initialised globals.
        @inline(__always) func flag(_ bit: UInt16, _ name: StaticString) {
            guard bits & bit != 0 else { return }
            if p > start {
                p.pointee = UInt8(ascii: " ")
                p += 1
            }
            JSONWriter.copy(p, name.utf8Start, name.utf8CodeUnitCount)
            p += name.utf8CodeUnitCount
        }
        flag(0x100, "AE")
        flag(0x080, "CWR")
        flag(0x040, "ECE")
        flag(0x020, "URG")
        flag(0x010, "ACK")
        flag(0x008, "PSH")
        flag(0x004, "RST")
        flag(0x002, "SYN")
        flag(0x001, "FIN")
        return p - start
    }
}
