/// A forward-only reader over one line of monitor output (`nft monitor trace`, `xtables-monitor`).
///
/// Tokens are byte ranges split on spaces; the end of the line is trimmed of spaces, tabs and a
/// carriage return, so copies with the printers' trailing space stripped read the same.
struct MonitorScanner {
    let bytes: UnsafeBufferPointer<UInt8>
    var index: Int
    let end: Int

    init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        var e = bytes.count
        while e > 0, MonitorScanner.isSpace(bytes[e - 1]) { e -= 1 }
        end = e
        index = 0
    }

    @inline(__always) static func isSpace(_ b: UInt8) -> Bool { b == 32 || b == 9 || b == 13 || b == 10 }

    var atEnd: Bool { index >= end }

    mutating func skipSpaces() {
        while index < end, MonitorScanner.isSpace(bytes[index]) { index += 1 }
    }

    /// Whether the bytes at the cursor spell `literal` (no space skipping).
    func peek(_ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        if index + n > end { return false }
        let p = literal.utf8Start
        for k in 0..<n where bytes[index + k] != p[k] { return false }
        return true
    }

    /// Advances over `literal` when the cursor is on it.
    mutating func consume(_ literal: StaticString) -> Bool {
        guard peek(literal) else { return false }
        index += literal.utf8CodeUnitCount
        return true
    }

    /// The next space-delimited token, or nil at the end of the line.
    mutating func token() -> Range<Int>? {
        skipSpaces()
        if index >= end { return nil }
        let start = index
        while index < end, !MonitorScanner.isSpace(bytes[index]) { index += 1 }
        return start..<index
    }

    /// The next token without consuming it.
    func peekToken() -> Range<Int>? {
        var copy = self
        return copy.token()
    }

    /// A `"quoted"` value (returns the inside) or a plain token.
    mutating func quotedOrToken() -> Range<Int>? {
        skipSpaces()
        if index < end, bytes[index] == UInt8(ascii: "\"") {
            let start = index + 1
            var i = start
            while i < end, bytes[i] != UInt8(ascii: "\"") { i += 1 }
            index = min(i + 1, end)
            return start..<i
        }
        return token()
    }

    /// Everything from the cursor to the trimmed end of the line.
    var rest: Range<Int> { min(index, end)..<end }

    func string(_ r: Range<Int>) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: bytes[r]), as: UTF8.self)
    }

    func slice(_ r: Range<Int>) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[r]) }

    func equals(_ r: Range<Int>, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        if r.count != n { return false }
        let p = literal.utf8Start
        for k in 0..<n where bytes[r.lowerBound + k] != p[k] { return false }
        return true
    }

    func hasPrefix(_ r: Range<Int>, _ literal: StaticString) -> Bool {
        let n = literal.utf8CodeUnitCount
        if r.count < n { return false }
        let p = literal.utf8Start
        for k in 0..<n where bytes[r.lowerBound + k] != p[k] { return false }
        return true
    }

    /// Position of the last occurrence of `literal` inside `r`.
    func lastIndex(of literal: StaticString, in r: Range<Int>) -> Int? {
        let n = literal.utf8CodeUnitCount
        if r.count < n { return nil }
        let p = literal.utf8Start
        var i = r.upperBound - n
        while i >= r.lowerBound {
            var match = true
            for k in 0..<n where bytes[i + k] != p[k] {
                match = false
                break
            }
            if match { return i }
            i -= 1
        }
        return nil
    }

    /// Position of the first occurrence of `literal` inside `r`.
    func firstIndex(of literal: StaticString, in r: Range<Int>) -> Int? {
        let n = literal.utf8CodeUnitCount
        if r.count < n { return nil }
        let p = literal.utf8Start
        var i = r.lowerBound
        while i + n <= r.upperBound {
            var match = true
            for k in 0..<n where bytes[i + k] != p[k] {
                match = false
                break
            }
            if match { return i }
            i += 1
        }
        return nil
    }

    /// `r` without leading and trailing spaces.
    func trimmed(_ r: Range<Int>) -> Range<Int> {
        var lo = r.lowerBound
        var hi = r.upperBound
        while lo < hi, MonitorScanner.isSpace(bytes[lo]) { lo += 1 }
        while hi > lo, MonitorScanner.isSpace(bytes[hi - 1]) { hi -= 1 }
        return lo..<hi
    }

    // MARK: numbers

    /// Decimal digits filling `r` completely.
    func decimal(_ r: Range<Int>) -> UInt64? {
        MonitorScanner.decimal(slice(r))
    }

    /// Hex digits filling `r`, with or without a `0x` prefix.
    func hex(_ r: Range<Int>) -> UInt64? {
        MonitorScanner.hex(slice(r))
    }

    /// `0x…` as hex, anything else as decimal.
    func number(_ r: Range<Int>) -> UInt64? {
        hasPrefix(r, "0x") ? hex(r) : decimal(r)
    }

    /// The number of leading decimal digits in `r` (for glued tokens like `ID=45471DF`).
    func digitPrefixLength(_ r: Range<Int>) -> Int {
        var n = 0
        while r.lowerBound + n < r.upperBound {
            let b = bytes[r.lowerBound + n]
            if b < 48 || b > 57 { break }
            n += 1
        }
        return n
    }

    static func decimal(_ b: UnsafeBufferPointer<UInt8>) -> UInt64? {
        if b.isEmpty || b.count > 19 { return nil }
        var v: UInt64 = 0
        for c in b {
            guard c >= 48 && c <= 57 else { return nil }
            v = v * 10 + UInt64(c - 48)
        }
        return v
    }

    static func hex(_ b: UnsafeBufferPointer<UInt8>) -> UInt64? {
        var start = 0
        if b.count >= 2 && b[0] == UInt8(ascii: "0") && (b[1] == UInt8(ascii: "x") || b[1] == UInt8(ascii: "X")) {
            start = 2
        }
        let digits = b.count - start
        if digits <= 0 || digits > 16 { return nil }
        var v: UInt64 = 0
        for k in start..<b.count {
            guard let h = IPAddress.hexValue(b[k]) else { return nil }
            v = v << 4 | UInt64(h)
        }
        return v
    }
}

/// Small conversions shared by the two monitor parsers.
enum MonitorFormat {
    /// Normalises a MAC address to six zero-padded, lower-case octets (`2:42:AC:11:0:2` →
    /// `02:42:ac:11:00:02`); other text is returned unchanged.
    static func normalizedMAC(_ text: String) -> String {
        var text = text
        return text.withUTF8(macBytes) ?? text
    }

    /// Six groups of one or two hex digits, each as `UInt8(_:radix: 16)` reads it (a sign counts as
    /// a byte of the group: `+f` is 15, `-0` is 0), written with two lower-case digits. Bytes, not
    /// `split` and `String(radix:)`: every `ether saddr` and `daddr` of an nft packet line asks.
    private static func macBytes(_ b: UnsafeBufferPointer<UInt8>) -> String? {
        var values: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        var group = 0
        var i = 0
        while true {
            var end = i
            while end < b.count, b[end] != UInt8(ascii: ":") { end += 1 }
            guard let v = hexGroup(b, i, end), group < 6 else { return nil }
            withUnsafeMutableBytes(of: &values) { $0[group] = v }
            group += 1
            if end == b.count { break }
            i = end + 1
        }
        guard group == 6 else { return nil }
        return String(unsafeUninitializedCapacity: 17) { out in
            withUnsafeBytes(of: values) { v in
                for k in 0..<6 {
                    if k > 0 { out[k * 3 - 1] = UInt8(ascii: ":") }
                    out[k * 3] = JSONEscape.hexDigit(v[k] >> 4)
                    out[k * 3 + 1] = JSONEscape.hexDigit(v[k] & 15)
                }
            }
            return 17
        }
    }

    private static func hexGroup(_ b: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> UInt8? {
        let digit = IPAddress.hexValue
        switch end - start {
        case 1: return digit(b[start])
        case 2:
            guard let low = digit(b[start + 1]) else { return nil }
            switch b[start] {
            case UInt8(ascii: "+"): return low
            case UInt8(ascii: "-"): return low == 0 ? 0 : nil
            default: return digit(b[start]).map { $0 << 4 | low }
            }
        default: return nil
        }
    }

    /// Maps a netfilter family number (nfgen_family, NFPROTO_*) to its nft family word.
    static func familyWord(_ n: UInt64) -> String? {
        switch n {
        case 1: return "inet"
        case 2: return "ip"
        case 3: return "arp"
        case 5: return "netdev"
        case 7: return "bridge"
        case 10: return "ip6"
        default: return nil
        }
    }
}

/// The last packet dump seen for each trace id, so that the rule, policy and return records that
/// follow it (and carry no dump of their own) can be given the packet.
///
/// Bounded: past `capacity` ids the oldest stored id is forgotten. Trace ids are recycled quickly by
/// the kernel, so a stale entry is only ever replaced by the next dump for the same id.
struct MonitorPacketStore {
    struct Entry {
        var header: PacketHeader
        var inIface: String?
        var outIface: String?
        /// The packet's family as the dump showed it (IPv4 or IPv6 addresses, ARP fields).
        var family: Family?
    }

    let capacity: Int
    private var entries: [UInt32: Entry] = [:]
    /// Ids in insertion order, used as a ring once full.
    private var order: [UInt32] = []
    private var oldest = 0

    init(capacity: Int = 1024) {
        self.capacity = max(1, capacity)
    }

    var count: Int { entries.count }

    subscript(id: UInt32) -> Entry? { entries[id] }

    mutating func store(_ entry: Entry, for id: UInt32) {
        if entries.updateValue(entry, forKey: id) != nil { return }
        if order.count < capacity {
            order.append(id)
            return
        }
        entries.removeValue(forKey: order[oldest])
        order[oldest] = id
        oldest = (oldest + 1) % capacity
    }

    /// Applies `change` to the entry for `id`, if there is one.
    mutating func update(_ id: UInt32, _ change: (inout Entry) -> Void) {
        guard var e = entries[id] else { return }
        change(&e)
        entries[id] = e
    }
}
