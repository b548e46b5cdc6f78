/// The head of one legacy TRACE record, `TRACE: table:chain:type:rulenum`.
struct TraceHead {
    /// Where `TRACE:` starts.
    var start: Int
    var table: ByteRange
    var chain: ByteRange
    var kind: StepKind
    var number: Int
    /// Just past the `table:chain:type:rulenum` token.
    var end: Int
}

/// What the text after `TRACE: ` is.
enum TraceHeadCheck {
    case record(TraceHead)
    /// It is meant as a TRACE record (it names rule/return/policy) but the number or a name is broken.
    case malformed(String)
    /// Not a TRACE record (for example the ebtables LOG prefix `TRACE: eb:nat:PREROUTING`).
    case none
}

/// Packed first bytes of the field names nf_log_syslog and ebt_log print (little-endian, zero padded).
enum FieldKey {
    static let IN: UInt64 = 0x4E49
    static let OUT: UInt64 = 0x54_554F
    static let PHYSIN: UInt64 = 0x4E49_5359_4850
    static let PHYSOUT: UInt64 = 0x54_554F_5359_4850
    static let MAC: UInt64 = 0x43_414D
    static let MACSRC: UInt64 = 0x4352_5343_414D
    static let MACDST: UInt64 = 0x5453_4443_414D
    static let MACPROTO: UInt64 = 0x4F54_4F52_5043_414D
    static let VPROTO: UInt64 = 0x4F54_4F52_5056
    static let VID: UInt64 = 0x44_4956
    static let SRC: UInt64 = 0x43_5253
    static let DST: UInt64 = 0x54_5344
    static let LEN: UInt64 = 0x4E_454C
    static let TOS: UInt64 = 0x53_4F54
    static let PREC: UInt64 = 0x4345_5250
    static let TTL: UInt64 = 0x4C_5454
    static let ID: UInt64 = 0x4449
    static let TC: UInt64 = 0x4354
    static let HOPLIMIT: UInt64 = 0x5449_4D49_4C50_4F48
    static let FLOWLBL: UInt64 = 0x4C_424C_574F_4C46
    static let PROTO: UInt64 = 0x4F_544F_5250
    static let SPT: UInt64 = 0x54_5053
    static let DPT: UInt64 = 0x54_5044
    static let SEQ: UInt64 = 0x51_4553
    static let ACK: UInt64 = 0x4B_4341
    static let WINDOW: UInt64 = 0x574F_444E_4957
    static let RES: UInt64 = 0x53_4552
    static let URGP: UInt64 = 0x5047_5255
    static let TYPE: UInt64 = 0x4550_5954
    static let CODE: UInt64 = 0x4544_4F43
    static let UID: UInt64 = 0x44_4955
    static let GID: UInt64 = 0x44_4947
    static let MARK: UInt64 = 0x4B52_414D
    static let IPSRC: UInt64 = 0x43_5253_5049
    static let IPDST: UInt64 = 0x54_5344_5049
    static let tos: UInt64 = 0x73_6F74
    static let proto: UInt64 = 0x6F_746F_7270
    static let Header: UInt64 = 0x7265_6461_6548
    static let bracketSRC: UInt64 = 0x4352_535B
    // Bare words.
    static let DF: UInt64 = 0x4644
    static let MF: UInt64 = 0x464D
    static let CE: UInt64 = 0x4543
    static let CWR: UInt64 = 0x52_5743
    static let ECE: UInt64 = 0x45_4345
    static let URG: UInt64 = 0x47_5255
    static let PSH: UInt64 = 0x48_5350
    static let RST: UInt64 = 0x54_5352
    static let SYN: UInt64 = 0x4E_5953
    static let FIN: UInt64 = 0x4E_4946
    static let AE: UInt64 = 0x4541
    static let OPT: UInt64 = 0x54_504F
    /// First 8 bytes of INCOMPLETE (length 10).
    static let INCOMPLE: UInt64 = 0x454C_504D_4F43_4E49
    /// First 8 bytes of TRUNCATED (length 9).
    static let TRUNCATE: UInt64 = 0x4554_4143_4E55_5254
    static let ARP: UInt64 = 0x50_5241
    static let IP: UInt64 = 0x5049
    static let IPv6: UInt64 = 0x3676_5049
    static let Next: UInt64 = 0x7478_654E
    static let FRAG: UInt64 = 0x4741_5246
    static let TRACE: UInt64 = 0x45_4341_5254
    static let rparen: UInt64 = 0x29
    static let rbracket: UInt64 = 0x5D
    // PROTO= names.
    static let TCP: UInt64 = 0x50_4354
    static let UDP: UInt64 = 0x50_4455
    static let UDPLITE: UInt64 = 0x45_5449_4C50_4455
    static let ICMP: UInt64 = 0x504D_4349
    static let ICMPv6: UInt64 = 0x3676_504D_4349
    static let AH: UInt64 = 0x4841
    static let ESP: UInt64 = 0x50_5345
    static let SCTP: UInt64 = 0x5054_4353
    static let GRE: UInt64 = 0x45_5247
    static let IGMP: UInt64 = 0x504D_4749
}

/// Scans the nf_log packet dump of one line (section b of formats.md, plus the ebt_log layout) into a
/// `PacketHeader`, one record at a time, without allocating: names, MACs and unknown fields are kept
/// as byte ranges and turned into strings by `KernelLogParser` once the record is complete.
struct NfLogScanner {
    /// The current line (the scanner lives as long as its parser and is pointed at each line in turn).
    var p: UnsafePointer<UInt8>
    var n: Int
    var i: Int

    // Per-record state (see `resetRecord`).
    var header = PacketHeader()
    /// Whether any packet field was read (the event's header stays nil otherwise).
    var touched = false
    var inIface: ByteRange?
    var outIface: ByteRange?
    var physIn: ByteRange?
    var physOut: ByteRange?
    var macSrc: ByteRange?
    var macDst: ByteRange?
    /// The ebt_log layout (`MAC source = ...`) was seen.
    var ebt = false
    /// An nf_log ARP dump (`ARP HTYPE=...`) was seen.
    var arp = false
    /// Some MAC field was present.
    var sawMAC = false
    /// The outer `PROTO=` was seen: later `LEN=`/`ID=`/`SEQ=` belong to the L4 header.
    var l4 = false
    var inEmbedded = false
    var embeddedL4 = false
    var hasEmbedded = false
    var embedded = EmbeddedHeader()
    /// Inside an IPv6 `OPT ( ... )` extension-header group.
    var inOptGroup = false
    /// ebt_log's `ARP MAC SRC=`: the start of `MAC` when it qualifies the next field (else -1).
    var macMarker = -1
    /// Unknown or uninterpreted fields, as start/end pairs.
    var extra: [Int]
    /// A `[12.345678]` stamp seen inside the dump: the time of a glued record that follows it.
    var pendingStamp: Double?
    var pendingStampIndex = -1
    var pendingStampEnd = -1
    /// This record's `IN=` was read: another one starts a glued LOG record.
    var sawIN = false
    /// The `prefixes` entry the record's prefix came from or went to (-1: none), and where it starts.
    var prefixEntry = -1
    var prefixStart = 0
    /// The fast path read the record to the end of the line (only spaces are left for `run`).
    var readToEnd = false

    /// Dump tails already read (see `fastPath`).
    let tails = TailCache()
    /// Dump bodies already read (see `fastPath`).
    let bodies = BodyCache()
    /// Dump prefixes already read (see `fastPath`).
    let prefixes = DumpPrefixCache()

    /// A one-byte buffer for the scanner to point at before it has seen a line.
    nonisolated(unsafe) private static let placeholder = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)

    init() {
        p = UnsafePointer(NfLogScanner.placeholder)
        n = 0
        i = 0
        extra = []
        extra.reserveCapacity(16)
    }

    /// Points the scanner at a new line; `resetRecord` before each record it scans.
    @inline(__always) mutating func point(_ p: UnsafePointer<UInt8>, _ n: Int) {
        self.p = p
        self.n = n
        i = 0
    }

    /// Clears the per-record state; `header` is already fresh because `KernelLogParser.resolve` took it if it was touched.
    mutating func resetRecord() {
        touched = false
        inIface = nil
        outIface = nil
        physIn = nil
        physOut = nil
        macSrc = nil
        macDst = nil
        ebt = false
        arp = false
        sawMAC = false
        l4 = false
        inEmbedded = false
        embeddedL4 = false
        if hasEmbedded {
            hasEmbedded = false
            embedded = EmbeddedHeader()
        }
        inOptGroup = false
        macMarker = -1
        if !extra.isEmpty { extra.removeAll(keepingCapacity: true) }
        pendingStamp = nil
        pendingStampIndex = -1
        sawIN = false
        prefixEntry = -1
        readToEnd = false
    }

    /// The `prefixes` entry of the record's prefix while the ranges it gave are still the record's
    /// (the generic loop may read a later `IN=` or `MAC=` over them); nil otherwise.
    @inline(__always) func cachedPrefix() -> UnsafeMutablePointer<DumpPrefixCache.Result>? {
        guard prefixEntry >= 0 else { return nil }
        let r = prefixes.results + prefixEntry
        // Nothing but the fast path read this record: the ranges are the entry's.
        if readToEnd { return r }
        let s = prefixStart
        @inline(__always) func same(_ x: ByteRange?, _ rel: (Int, Int)) -> Bool {
            guard let x else { return rel.0 < 0 }
            return rel.0 >= 0 && x.start == s &+ rel.0 && x.end == s &+ rel.1
        }
        guard same(inIface, r.pointee.inIface), same(outIface, r.pointee.outIface),
            same(physIn, r.pointee.physIn), same(physOut, r.pointee.physOut), same(macSrc, r.pointee.macSrc),
            same(macDst, r.pointee.macDst)
        else { return nil }
        return r
    }

    /// The next glued record found by `run`.
    struct Boundary {
        var head: KernelLogParser.Head
        var time: Double?
    }

    // MARK: - Main loop

    /// Scans fields until the end of the line or the start of another record glued to this one.
    mutating func run() -> Boundary? {
        while i < n && p[i] == Byte.space { i += 1 }
        fastPath()
        while true {
            while i < n && p[i] == Byte.space { i += 1 }
            if i >= n { return nil }
            let ts = i
            var key: UInt64 = 0
            var klen = 0
            var b: UInt8 = 0
            while i < n {
                b = p[i]
                if b == Byte.equal || b == Byte.space || b == Byte.colon { break }
                if klen < 8 { key |= UInt64(b) << (UInt64(klen) &* 8) }
                klen &+= 1
                i &+= 1
            }
            if i < n && b == Byte.equal {
                // nf_log prints IN= once per record: a second one starts a glued LOG line.
                if key == FieldKey.IN && klen == 2 && sawIN { return logBoundary(ts, ts) }
                i &+= 1
                let ok = inEmbedded ? embeddedKeyValue(key, klen) : keyValue(key, klen, ts)
                if !ok {
                    // ... also when its prefix is glued to it: `[bri-X]IN=eth1 OUT=`.
                    let eq = tokenKeyEnd(ts)
                    if sawIN && eq - ts > 2 && p[eq - 2] == 0x49 && p[eq - 1] == 0x4E && !inEmbedded
                        && KernelLogParser.outFollows(p, n, eq + 1)
                    {
                        return logBoundary(ts, eq - 2)
                    }
                    i = tokenEnd(ts)
                    if !inEmbedded { addExtra(ts, i) }
                    closeEmbeddedIfBracketed()
                }
            } else if i < n && b == Byte.colon {
                if key == FieldKey.TRACE && klen == 5, let next = traceBoundary(ts) { return next }
                colonToken(key, klen, ts)
            } else {
                bareToken(key, klen, ts)
            }
        }
    }

    /// Where the key of the token at `ts` ends (its first `=`).
    func tokenKeyEnd(_ ts: Int) -> Int {
        var e = ts
        while e < n && p[e] != Byte.equal { e += 1 }
        return e
    }

    // MARK: - Token helpers

    /// The end of the token starting at `from` (the next space or the end of the line).
    @inline(__always) func tokenEnd(_ from: Int) -> Int { NfLogScanner.spaceOrEnd(p, n, from) }

    /// The index of the first space at or after `from`, or `n`; eight bytes at a time.
    @inline(__always) static func spaceOrEnd(_ p: UnsafePointer<UInt8>, _ n: Int, _ from: Int) -> Int {
        var e = from
        while e + 8 <= n {
            let x = UInt64(littleEndian: UnsafeRawPointer(p + e).loadUnaligned(as: UInt64.self)) ^ 0x2020_2020_2020_2020
            let t = (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
            if t != 0 { return e &+ t.trailingZeroBitCount >> 3 }
            e &+= 8
        }
        while e < n && p[e] != Byte.space { e &+= 1 }
        return e
    }

    @inline(__always) mutating func addExtra(_ s: Int, _ e: Int) {
        var end = e
        if ebt && end > s && p[end - 1] == Byte.comma { end -= 1 }
        if end <= s { return }
        extra.append(s)
        extra.append(end)
        touched = true
    }

    /// Skips the rest of the token and keeps it in `extra`.
    @inline(__always) mutating func keepToken(_ ts: Int) {
        i = tokenEnd(i)
        addExtra(ts, i)
    }

    /// In an embedded dump, a token glued to the closing bracket (`LEN=8]`) ends the dump.
    @inline(__always) mutating func closeEmbeddedIfBracketed() {
        if inEmbedded && i > 0 && p[i - 1] == Byte.rbracket { inEmbedded = false }
    }

    /// Whether a value ends here (space, end of line, `]` of an embedded dump, `,` in ebt_log).
    @inline(__always) mutating func endValue() -> Bool {
        if i >= n { return true }
        let b = p[i]
        if b == Byte.space { return true }
        if b == Byte.rbracket && inEmbedded { return true }
        if b == Byte.comma && ebt {
            i &+= 1
            return i >= n || p[i] == Byte.space
        }
        return false
    }

    /// A decimal number no larger than `limit`, ending a value.
    @inline(__always) mutating func decimal(_ limit: UInt64) -> UInt64? {
        let v = NfLogScanner.digits(p, n, &i, limit)
        if v == NfLogScanner.failed { return nil }
        return endValue() ? v : nil
    }

    /// A hex number (`0x` prefix required or optional) no larger than `limit`, ending a value.
    @inline(__always) mutating func hexadecimal(_ limit: UInt64, prefixed: Bool) -> UInt64? {
        if i + 1 < n && p[i] == 0x30 && (p[i + 1] | 0x20) == 0x78 {
            i &+= 2
        } else if prefixed {
            return nil
        }
        let s = i
        var v: UInt64 = 0
        while i < n {
            let h = Byte.hex(p[i])
            if h == 0xFF { break }
            v = v << 4 | UInt64(h)
            i &+= 1
        }
        let digits = i - s
        if digits == 0 || digits > 16 || v > limit { return nil }
        return endValue() ? v : nil
    }

    /// A string value up to the next space (nil when empty).
    @inline(__always) mutating func word() -> ByteRange? {
        let s = i
        i = tokenEnd(i)
        return i > s ? ByteRange(s, i) : nil
    }

    /// An IPv4 dotted quad or an IPv6 address (the kernel's full form fast, anything else via IPAddress).
    mutating func address() -> IPAddress? {
        let s = i
        var v: UInt32 = 0
        var octet: UInt32 = 0
        var digits = 0
        var parts = 0
        var ok = true
        while i < n {
            let b = p[i]
            let d = b &- 0x30
            if d < 10 {
                octet = octet &* 10 &+ UInt32(d)
                digits &+= 1
                if digits > 3 || octet > 255 {
                    ok = false
                    break
                }
            } else if b == Byte.dot {
                if digits == 0 || parts == 3 {
                    ok = false
                    break
                }
                v = v << 8 | octet
                octet = 0
                digits = 0
                parts &+= 1
            } else {
                break
            }
            i &+= 1
        }
        if ok && digits > 0 && parts == 3 && endValue() { return IPAddress(v4: v << 8 | octet) }
        // IPv6 (or garbage): find the value's end first.
        i = s
        var e = s
        while e < n {
            let b = p[e]
            if b == Byte.space || b == Byte.comma || b == Byte.rbracket { break }
            e &+= 1
        }
        let parsed = e - s == 39 ? NfLogScanner.fullIPv6(p + s) : nil
        let result = parsed ?? IPAddress.parse(UnsafeBufferPointer(start: p + s, count: e - s))
        i = e
        guard let result, endValue() else { return nil }
        return result
    }

    /// `%pI6`: eight groups of four hex digits.
    static func fullIPv6(_ q: UnsafePointer<UInt8>) -> IPAddress? {
        var hi: UInt64 = 0
        var lo: UInt64 = 0
        var g = 0
        while g < 8 {
            let o = g &* 5
            if g < 7 && q[o + 4] != Byte.colon { return nil }
            let a = Byte.hex(q[o])
            let b = Byte.hex(q[o + 1])
            let c = Byte.hex(q[o + 2])
            let d = Byte.hex(q[o + 3])
            if (a | b | c | d) & 0xF0 != 0 { return nil }
            let group = UInt64(a) << 12 | UInt64(b) << 8 | UInt64(c) << 4 | UInt64(d)
            if g < 4 { hi = hi << 16 | group } else { lo = lo << 16 | group }
            g &+= 1
        }
        return IPAddress(v6: hi, lo)
    }

    /// Whether the 41 bytes at `q` hold no space (an exact zero-byte test on each word).
    @inline(__always) static func spaceFree41(_ q: UnsafePointer<UInt8>) -> Bool {
        let raw = UnsafeRawPointer(q)
        var found: UInt64 = 0
        var k = 0
        while k < 40 {
            let x = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: k, as: UInt64.self)) ^ 0x2020_2020_2020_2020
            found |= ~(((x & 0x7F7F_7F7F_7F7F_7F7F) &+ 0x7F7F_7F7F_7F7F_7F7F) | x | 0x7F7F_7F7F_7F7F_7F7F)
            k &+= 8
        }
        return found == 0 && q[40] != Byte.space
    }

    /// Whether a MAC address's colons are at 2, 5, 8, 11 and 14 of the 16 readable bytes at `q`.
    @inline(__always) static func macColons(_ q: UnsafePointer<UInt8>) -> Bool {
        let raw = UnsafeRawPointer(q)
        let a = UInt64(littleEndian: raw.loadUnaligned(as: UInt64.self))
        let b = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
        return a & 0x0000_FF00_00FF_0000 == 0x0000_3A00_003A_0000
            && b & 0x00FF_0000_FF00_00FF == 0x003A_0000_3A00_003A
    }

    /// `MAC=` (with `i` at the value): Ethernet's 14 bytes split into dst, src and type; empty means no
    /// link-layer header; any other length is kept verbatim.
    mutating func macField(_ ts: Int) {
        let s = i
        // Ethernet's 41 characters are checked for spaces five words at a time, and their colons
        // with two masked words per address: the scan and the colon loops were 147 instructions a
        // MAC (callgrind, scripts/icount.sh on t10). Any other token is scanned as before.
        if s &+ 41 <= n && (s &+ 41 == n || p[s &+ 41] == Byte.space) && NfLogScanner.spaceFree41(p + s) {
            i = s &+ 41
        } else {
            i = tokenEnd(i)
        }
        let len = i - s
        if len == 0 { return }
        sawMAC = true
        touched = true
        if len == 41 && NfLogScanner.macColons(p + s) && NfLogScanner.macColons(p + s + 18)
            && p[s + 17] == Byte.colon && p[s + 38] == Byte.colon
        {
            let a = Byte.hex(p[s + 36])
            let b = Byte.hex(p[s + 37])
            let c = Byte.hex(p[s + 39])
            let d = Byte.hex(p[s + 40])
            if (a | b | c | d) & 0xF0 == 0 {
                macDst = ByteRange(s, s + 17)
                macSrc = ByteRange(s + 18, s + 35)
                header.macProto = UInt16(a) << 12 | UInt16(b) << 8 | UInt16(c) << 4 | UInt16(d)
                return
            }
        }
        addExtra(ts, i)
    }

    // MARK: - key=value fields

    mutating func keyValue(_ key: UInt64, _ klen: Int, _ ts: Int) -> Bool {
        switch key {
        case FieldKey.IN:
            inIface = word()
            sawIN = true
            return true
        case FieldKey.OUT:
            outIface = word()
            return true
        case FieldKey.PHYSIN:
            physIn = word()
            return true
        case FieldKey.PHYSOUT:
            physOut = word()
            return true
        case FieldKey.MAC:
            macField(ts)
            return true
        default:
            break
        }
        touched = true
        switch key {
        case FieldKey.SRC, FieldKey.IPSRC:
            if macMarker >= 0 { return markedMAC() }
            guard let a = address() else { return false }
            header.src = a
            return true
        case FieldKey.DST, FieldKey.IPDST:
            if macMarker >= 0 { return markedMAC() }
            guard let a = address() else { return false }
            header.dst = a
            return true
        case FieldKey.LEN:
            if l4 { return false }
            guard let v = decimal(UInt64(UInt32.max)) else { return false }
            header.length = UInt32(v)
            return true
        case FieldKey.TOS, FieldKey.PREC, FieldKey.tos:
            guard let v = hexadecimal(0xFF, prefixed: false) else { return false }
            header.tos = (header.tos ?? 0) | UInt8(v)
            return true
        case FieldKey.TTL:
            guard let v = decimal(0xFF) else { return false }
            header.ttl = UInt8(v)
            return true
        case FieldKey.HOPLIMIT:
            guard klen == 8, let v = decimal(0xFF) else { return false }
            header.ttl = UInt8(v)
            return true
        case FieldKey.TC:
            guard let v = decimal(0xFF) else { return false }
            header.tos = UInt8(v)
            return true
        case FieldKey.ID:
            if l4 {
                guard isICMP, let v = decimal(0xFFFF) else { return false }
                header.icmpID = UInt16(v)
            } else {
                guard let v = decimal(0xFFFF) else { return false }
                header.ipID = UInt32(v)
            }
            return true
        case FieldKey.PROTO, FieldKey.proto, FieldKey.Header:
            guard let v = protocolValue() else { return false }
            header.proto = v
            if key == FieldKey.PROTO { l4 = true }
            return true
        case FieldKey.SPT:
            guard let v = decimal(0xFFFF) else { return false }
            header.sport = UInt16(v)
            return true
        case FieldKey.DPT:
            guard let v = decimal(0xFFFF) else { return false }
            header.dport = UInt16(v)
            return true
        case FieldKey.SEQ:
            if isICMP {
                guard let v = decimal(0xFFFF) else { return false }
                header.icmpSeq = UInt16(v)
            } else {
                guard let v = decimal(UInt64(UInt32.max)) else { return false }
                header.tcpSeq = UInt32(v)
            }
            return true
        case FieldKey.ACK:
            guard let v = decimal(UInt64(UInt32.max)) else { return false }
            header.tcpAck = UInt32(v)
            return true
        case FieldKey.WINDOW:
            guard let v = decimal(0xFFFF) else { return false }
            header.window = UInt16(v)
            return true
        case FieldKey.RES, FieldKey.URGP:
            // Almost always zero: keep only a non-zero value.
            let s = i
            if s < n && p[s] == 0x30 && (s + 1 >= n || p[s + 1] == Byte.space) {
                i = s + 1
                return true
            }
            if key == FieldKey.RES && Byte.matches(p, n, s, "0x00") && (s + 4 >= n || p[s + 4] == Byte.space) {
                i = s + 4
                return true
            }
            return false
        case FieldKey.TYPE:
            guard let v = decimal(0xFF) else { return false }
            header.icmpType = UInt8(v)
            return true
        case FieldKey.CODE:
            guard let v = decimal(0xFF) else { return false }
            header.icmpCode = UInt8(v)
            return true
        case FieldKey.UID:
            guard let v = decimal(UInt64(UInt32.max)) else { return false }
            header.uid = UInt32(v)
            return true
        case FieldKey.GID:
            guard let v = decimal(UInt64(UInt32.max)) else { return false }
            header.gid = UInt32(v)
            return true
        case FieldKey.MARK:
            guard let v = hexadecimal(UInt64(UInt32.max), prefixed: true) else { return false }
            header.mark = UInt32(v)
            return true
        case FieldKey.MACSRC:
            sawMAC = true
            guard macSrc == nil, let r = word() else { return false }
            macSrc = r
            return true
        case FieldKey.MACDST:
            sawMAC = true
            guard macDst == nil, let r = word() else { return false }
            macDst = r
            return true
        case FieldKey.MACPROTO:
            guard klen == 8, let v = hexadecimal(0xFFFF, prefixed: false) else { return false }
            header.macProto = UInt16(v)
            return true
        case FieldKey.bracketSRC:
            inEmbedded = true
            hasEmbedded = true
            embeddedL4 = false
            embedded = EmbeddedHeader()
            if let a = address() { embedded.src = a }
            closeEmbeddedIfBracketed()
            return true
        default:
            // FLOWLBL, MTU, GATEWAY, PARAMETER, POINTER, SPI, VPROTO, VID, TUNNEL, HTYPE, PTYPE, OPCODE,
            // priority, the UDP length, and anything this parser does not know: kept verbatim.
            return false
        }
    }

    /// ebt_log's `ARP MAC SRC=aa:bb:...`: kept verbatim with its `MAC` qualifier.
    mutating func markedMAC() -> Bool {
        i = tokenEnd(i)
        addExtra(macMarker, i)
        macMarker = -1
        return true
    }

    var isICMP: Bool { header.proto == IPProtocol.icmp || header.proto == IPProtocol.icmpv6 }

    /// `PROTO=TCP`, `PROTO=2`, ebt_log's `proto=6`.
    mutating func protocolValue() -> UInt8? {
        let s = i
        var e = s
        var w: UInt64 = 0
        while e < n {
            let b = p[e]
            if b == Byte.space || b == Byte.comma || (b == Byte.rbracket && inEmbedded) { break }
            if e - s < 8 { w |= UInt64(b) << (UInt64(e - s) &* 8) }
            e &+= 1
        }
        if e > s && Byte.isDigit(p[s]) { return decimal(0xFF).map { UInt8($0) } }
        let value: UInt8
        switch w {
        case FieldKey.TCP: value = IPProtocol.tcp
        case FieldKey.UDP: value = IPProtocol.udp
        case FieldKey.ICMP: value = IPProtocol.icmp
        case FieldKey.ICMPv6: value = IPProtocol.icmpv6
        case FieldKey.UDPLITE: value = IPProtocol.udplite
        case FieldKey.AH: value = IPProtocol.ah
        case FieldKey.ESP: value = IPProtocol.esp
        case FieldKey.SCTP: value = IPProtocol.sctp
        case FieldKey.GRE: value = IPProtocol.gre
        case FieldKey.IGMP: value = IPProtocol.igmp
        default: return nil
        }
        if e - s > 8 { return nil }
        i = e
        return endValue() ? value : nil
    }

    /// Fields inside the `[...]` dump of an ICMP error: only the addresses, ports, protocol, length and
    /// id are kept (the model's `EmbeddedHeader`); the rest is skipped.
    mutating func embeddedKeyValue(_ key: UInt64, _ klen: Int) -> Bool {
        switch key {
        case FieldKey.SRC:
            guard let a = address() else { return false }
            embedded.src = a
        case FieldKey.DST:
            guard let a = address() else { return false }
            embedded.dst = a
        case FieldKey.LEN:
            if embeddedL4 { return false }
            guard let v = decimal(UInt64(UInt32.max)) else { return false }
            embedded.length = UInt32(v)
        case FieldKey.ID:
            if embeddedL4 { return false }
            guard let v = decimal(0xFFFF) else { return false }
            embedded.ipID = UInt32(v)
        case FieldKey.PROTO:
            guard let v = protocolValue() else { return false }
            embedded.proto = v
            embeddedL4 = true
        case FieldKey.SPT:
            guard let v = decimal(0xFFFF) else { return false }
            embedded.sport = UInt16(v)
        case FieldKey.DPT:
            guard let v = decimal(0xFFFF) else { return false }
            embedded.dport = UInt16(v)
        default:
            return false
        }
        return true
    }

    // MARK: - Bare words and `NAME:value` tokens

    mutating func bareToken(_ key: UInt64, _ klen: Int, _ ts: Int) {
        if inEmbedded {
            switch key {
            case FieldKey.rbracket where klen == 1:
                inEmbedded = false
            case FieldKey.INCOMPLE where klen == 10:
                _ = incompleteBytes()
            case FieldKey.OPT:
                skipOptions()
            default:
                closeEmbeddedIfBracketed()
            }
            return
        }
        touched = true
        switch key {
        case FieldKey.DF: header.ipFlags.insert(.df)
        case FieldKey.MF: header.ipFlags.insert(.mf)
        case FieldKey.CE: header.ipFlags.insert(.ce)
        case FieldKey.SYN: header.tcpFlags.insert(.syn)
        case FieldKey.ACK: header.tcpFlags.insert(.ack)
        case FieldKey.FIN: header.tcpFlags.insert(.fin)
        case FieldKey.RST: header.tcpFlags.insert(.rst)
        case FieldKey.PSH: header.tcpFlags.insert(.psh)
        case FieldKey.URG: header.tcpFlags.insert(.urg)
        case FieldKey.ECE: header.tcpFlags.insert(.ece)
        case FieldKey.CWR: header.tcpFlags.insert(.cwr)
        case FieldKey.AE: header.tcpFlags.insert(.ae)
        case FieldKey.OPT:
            options(ts)
        case FieldKey.rparen where klen == 1 && inOptGroup:
            inOptGroup = false
        case FieldKey.INCOMPLE where klen == 10:
            if let bytes = incompleteBytes() {
                header.incompleteBytes = bytes
            } else if inOptGroup || Byte.matches(p, n, i, " ID:") {
                // IPv6 fragment header: more fragments follow.
                header.ipFlags.insert(.mf)
            } else {
                addExtra(ts, i)
            }
        case FieldKey.ARP:
            arp = true
        case FieldKey.MAC:
            if Byte.matches(p, n, i, " source = ") {
                i &+= 10
                ebt = true
                sawMAC = true
                if let r = word() { macSrc = r }
            } else if Byte.matches(p, n, i, " dest = ") {
                i &+= 8
                sawMAC = true
                if let r = word() { macDst = r }
            } else {
                macMarker = ts
            }
        case FieldKey.proto:
            if ebt && Byte.matches(p, n, i, " = ") {
                i &+= 3
                if let v = hexadecimal(0xFFFF, prefixed: true) {
                    header.macProto = UInt16(v)
                } else {
                    keepToken(ts)
                }
            } else {
                keepToken(ts)
            }
        case FieldKey.IP where ebt, FieldKey.IPv6 where ebt, FieldKey.Next where ebt:
            macMarker = -1
        default:
            if key == FieldKey.TRUNCATE && klen == 9 {
                addExtra(ts, i)
                return
            }
            if klen > 0 && p[ts] == Byte.lbracket, let (t, end) = KernelLogParser.stamp(p, n, ts) {
                i = end
                addExtra(ts, end)
                pendingStamp = t
                pendingStampIndex = extra.count - 2
                pendingStampEnd = end
            } else {
                keepToken(ts)
            }
        }
    }

    /// `INCOMPLETE [N bytes]` (with `i` just past `INCOMPLETE`): returns N and consumes the brackets.
    mutating func incompleteBytes() -> Int? {
        guard Byte.matches(p, n, i, " [") else { return nil }
        var j = i + 2
        var v = 0
        let s = j
        while j < n && Byte.isDigit(p[j]) && j - s < 10 {
            v = v &* 10 &+ Int(p[j] &- 0x30)
            j &+= 1
        }
        guard j > s, Byte.matches(p, n, j, " bytes]") else { return nil }
        i = j + 7
        return v
    }

    /// `OPT (hex)`, `OPT (TRUNCATED)` or the IPv6 `OPT ( ... )` extension-header group.
    mutating func options(_ ts: Int) {
        guard i + 1 < n && p[i] == Byte.space && p[i + 1] == Byte.lparen else {
            addExtra(ts, i)
            return
        }
        if i + 2 >= n || p[i + 2] == Byte.space {
            // IPv6 extension headers: the tokens inside are handled one by one until `)`.
            i &+= 2
            inOptGroup = true
            return
        }
        // `(hex)` and `(TRUNCATED)` have no spaces: the token is the whole value.
        i = tokenEnd(i + 2)
        addExtra(ts, i)
    }

    /// Skips `OPT (...)` or `OPT ( ... )` inside an embedded dump.
    mutating func skipOptions() {
        guard i + 1 < n && p[i] == Byte.space && p[i + 1] == Byte.lparen else { return }
        var e = i + 2
        while e < n && p[e] != Byte.rparen && p[e] != Byte.rbracket { e &+= 1 }
        if e < n && p[e] == Byte.rparen { e &+= 1 }
        i = e
    }

    /// `FRAG:N`, `ID:xxxxxxxx` and unknown `NAME:...` tokens (`i` is on the colon).
    mutating func colonToken(_ key: UInt64, _ klen: Int, _ ts: Int) {
        if inEmbedded {
            i = tokenEnd(i)
            closeEmbeddedIfBracketed()
            return
        }
        touched = true
        i &+= 1
        switch key {
        case FieldKey.FRAG:
            if let v = decimal(UInt64(UInt32.max)) {
                header.fragment = UInt32(v)
                return
            }
        case FieldKey.ID:
            if let v = hexadecimal(UInt64(UInt32.max), prefixed: false) {
                header.ipID = UInt32(v)
                return
            }
        default:
            break
        }
        keepToken(ts)
    }

    /// At `TRACE:` inside the dump: the start of a glued record, if a valid head follows.
    mutating func traceBoundary(_ ts: Int) -> Boundary? {
        guard i + 1 < n && p[i + 1] == Byte.space else { return nil }
        guard case .record(var head) = KernelLogParser.classify(p, n, i + 2) else { return nil }
        head.start = ts
        var time: Double?
        if let t = pendingStamp, pendingStampIndex >= 0, pendingStampIndex == extra.count - 2 {
            extra.removeLast(2)
            time = t
        }
        return Boundary(head: .trace(head), time: time)
    }

    /// At a second `IN=` (at `inField`, in the token starting at `ts`): a LOG line glued to this record.
    /// Its prefix is the run of loose words kept in `extra` just before that token, plus whatever is
    /// glued to `IN=`; a dmesg stamp opening that run gives its time.
    mutating func logBoundary(_ ts: Int, _ inField: Int) -> Boundary {
        var start = ts
        var k = extra.count
        while k >= 2 && isLooseWord(extra[k - 2], extra[k - 1]) {
            k -= 2
            start = extra[k]
        }
        var time: Double?
        if let t = pendingStamp, pendingStampIndex == k, k < extra.count {
            time = t
            start = pendingStampEnd
            while start < inField && p[start] == Byte.space { start += 1 }
        }
        extra.removeSubrange(k...)
        return Boundary(head: .log(prefixStart: start, inField: inField), time: time)
    }

    /// An `extra` entry that is not a field: no `=`, and not one of nf_log's bare words.
    func isLooseWord(_ s: Int, _ e: Int) -> Bool {
        if Byte.matches(p, e, s, "TRUNCATED") || Byte.matches(p, e, s, "OPT (") || Byte.matches(p, e, s, "INCOMPLETE") {
            return false
        }
        var k = s
        while k < e {
            if p[k] == Byte.equal { return false }
            k += 1
        }
        return true
    }
}
