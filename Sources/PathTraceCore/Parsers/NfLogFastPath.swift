/// The canonical nf_log layout, parsed in the kernel's own order.
///
/// nf_log_syslog always prints `IN= OUT= [PHYSIN= PHYSOUT=] [MAC=] SRC= DST= LEN= TOS= PREC= TTL= ID=
/// [CE DF MF] PROTO=...` (IPv6: `LEN= TC= HOPLIMIT= FLOWLBL=`), so instead of reading each key and
/// dispatching on it, the fast path checks that the expected key is next with one masked word compare.
/// At the first surprise it stops, rewinds to the start of that token, and the generic loop in `run`
/// carries on from there, so the result is the same as without it.
///
/// The cursor lives in a local and the helpers are static functions of (bytes, length, cursor): a
/// mutating method keeps `i` in memory and reloads `p` and `n` at every byte, which made this path
/// 2,500 instructions a line (callgrind, `replay --format json` of the 35,727-line head of the
/// benchmark file, scripts/bench-replay.sh).
extension NfLogScanner {
    private enum Lit {
        static let IN: UInt64 = 0x3D_4E49
        static let OUT: UInt64 = 0x3D54_554F
        static let PHYSIN: UInt64 = 0x3D_4E49_5359_4850
        static let PHYSOUT: UInt64 = 0x3D54_554F_5359_4850
        static let MAC: UInt64 = 0x3D43_414D
        static let SRC: UInt64 = 0x3D43_5253
        static let DST: UInt64 = 0x3D54_5344
        static let LEN: UInt64 = 0x3D4E_454C
        static let TOS: UInt64 = 0x3D53_4F54
        static let PREC: UInt64 = 0x3D_4345_5250
        static let TTL: UInt64 = 0x3D4C_5454
        static let ID: UInt64 = 0x3D_4449
        static let TC: UInt64 = 0x3D_4354
        static let HOPLIMIT: UInt64 = 0x5449_4D49_4C50_4F48
        static let FLOWLBL0: UInt64 = 0x3D4C_424C_574F_4C46
        static let PROTO: UInt64 = 0x3D4F_544F_5250
        static let SPT: UInt64 = 0x3D54_5053
        static let DPT: UInt64 = 0x3D54_5044
        static let SEQ: UInt64 = 0x3D51_4553
        static let ACK: UInt64 = 0x3D4B_4341
        static let WINDOW: UInt64 = 0x3D_574F_444E_4957
        static let TYPE: UInt64 = 0x3D_4550_5954
        static let CODE: UInt64 = 0x3D_4544_4F43
        static let RES0: UInt64 = 0x3030_7830_3D53_4552
        static let URGP0: UInt64 = 0x30_3D50_4752_55
        static let OPTparen: UInt64 = 0x28_2054_504F
        static let CE: UInt64 = 0x20_4543
        static let DF: UInt64 = 0x20_4644
        static let MF: UInt64 = 0x20_464D
        static let TCP: UInt64 = 0x50_4354
        static let UDP: UInt64 = 0x50_4455
        static let ICMP: UInt64 = 0x504D_4349
    }

    /// What `digits`, `dec` and `hex2` return when the value is not exactly a number within its limit.
    static let failed = UInt64.max

    /// Whether the `len` bytes at `i` are `value` (packed little-endian).
    @inline(__always) static func lit(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int, _ value: UInt64, _ len: Int
    ) -> Bool {
        if i &+ 8 <= n {
            let w = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
            let mask: UInt64 = len >= 8 ? .max : (1 << (UInt64(len) &* 8)) &- 1
            return w & mask == value
        }
        return i &+ len <= n && Byte.load(p + i, len) == value
    }

    /// Steps over the single space between fields; false at the end of the line.
    @inline(__always) static func sep(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> Bool {
        if i < n && p[i] == Byte.space {
            i &+= 1
            return i < n
        }
        return false
    }

    /// The decimal digits at `i` as a number no larger than `limit` (`failed` when there are none, more
    /// than 19, or it is larger), with `i` past them: the one digit loop of both scanners.
    @inline(__always) static func digits(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ limit: UInt64
    ) -> UInt64 {
        let s = i
        var j = i
        var v: UInt64 = 0
        while j < n {
            let d = p[j] &- 0x30
            if d >= 10 { break }
            v = v &* 10 &+ UInt64(d)
            j &+= 1
        }
        i = j
        if j == s || j &- s > 19 || v > limit { return failed }
        return v
    }

    /// A decimal value ending at a space or the end of the line (`decimal` outside an embedded or
    /// ebt_log dump); `failed` when it is not, with `i` past the digits.
    @inline(__always) static func dec(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ limit: UInt64
    ) -> UInt64 {
        let v = digits(p, n, &i, limit)
        if v == failed || (i < n && p[i] != Byte.space) { return failed }
        return v
    }

    /// `KEY=decimal` at `i`: the value, with `i` past it; `failed` with `i` unchanged otherwise.
    @inline(__always) static func field(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ key: UInt64, _ len: Int, _ limit: UInt64
    ) -> UInt64 {
        guard lit(p, n, i, key, len) else { return failed }
        var j = i &+ len
        let v = dec(p, n, &j, limit)
        if v != failed { i = j }
        return v
    }

    /// `field` for a four-byte key and a 32-bit value that mostly has nine or ten digits (`SEQ=`,
    /// `ACK=`): its first eight digits are read as one word. The byte loop took 11 instructions a
    /// digit, 220 a record for these two (callgrind, scripts/icount.sh on t10); shorter values take it.
    @inline(__always) static func field32(
        _ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int, _ key: UInt64
    ) -> UInt64 {
        let s = i &+ 4
        guard s &+ 8 <= n, lit(p, n, i, key, 4) else { return field(p, n, &i, key, 4, UInt64(UInt32.max)) }
        let (count, high) = Byte.leadingDigits(Byte.load(p + s, 8))
        guard count == 8 else { return field(p, n, &i, key, 4, UInt64(UInt32.max)) }
        // The same loop as `digits` from the ninth digit on, so the same values fail.
        var j = s &+ 8
        var v = high
        while j < n {
            let d = p[j] &- 0x30
            if d >= 10 { break }
            v = v &* 10 &+ UInt64(d)
            j &+= 1
        }
        if j &- s > 19 || v > UInt64(UInt32.max) || (j < n && p[j] != Byte.space) { return failed }
        i = j
        return v
    }

    /// `0x` and two hex digits, ending at a space or the end of the line (`TOS=` and `PREC=`).
    @inline(__always) static func hex2(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> UInt64 {
        guard i &+ 4 <= n, p[i] == 0x30, p[i &+ 1] | 0x20 == 0x78 else { return failed }
        let a = Byte.hex(p[i &+ 2])
        let b = Byte.hex(p[i &+ 3])
        if (a | b) & 0xF0 != 0 { return failed }
        if i &+ 4 < n && p[i &+ 4] != Byte.space { return failed }
        i &+= 4
        return UInt64(a) << 4 | UInt64(b)
    }

    /// A dotted quad ending at a space or the end of the line; nil for anything else (`address`
    /// then decides).
    @inline(__always) static func quad(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> UInt32? {
        if i &+ 16 <= n { return quadWords(p, &i) }
        var j = i
        var v: UInt32 = 0
        var part = 0
        while true {
            var octet: UInt32 = 0
            let s = j
            while j < n && j &- s < 3 {
                let d = p[j] &- 0x30
                if d >= 10 { break }
                octet = octet &* 10 &+ UInt32(d)
                j &+= 1
            }
            if j == s || octet > 255 { return nil }
            v = v << 8 | octet
            if part == 3 { break }
            guard j < n, p[j] == Byte.dot else { return nil }
            j &+= 1
            part &+= 1
        }
        if j < n && p[j] != Byte.space { return nil }
        i = j
        return v
    }

    /// `quad` with 16 bytes readable at `i`: each octet's digits are found and added up in one
    /// four-byte word. The byte loop was 190 instructions an address (callgrind, scripts/icount.sh on
    /// t10). The same values fail: a fourth digit is where a dot or the space should be.
    @inline(__always) static func quadWords(_ p: UnsafePointer<UInt8>, _ i: inout Int) -> UInt32? {
        var j = i
        var v: UInt32 = 0
        var part = 0
        while true {
            let a = UInt32(littleEndian: UnsafeRawPointer(p + j).loadUnaligned(as: UInt32.self)) ^ 0x3030_3030
            // A byte is a digit when its high nibble is 3 and its low one below 10 (see `leadingDigits`).
            let other = (a & 0xF0F0_F0F0) | ((a &+ 0x0606_0606) & 0x1010_1010)
            let count = other.trailingZeroBitCount >> 3
            let octet: UInt32
            switch count {
            case 1: octet = a & 0xFF
            case 2: octet = (a & 0xFF) &* 10 &+ (a >> 8 & 0xFF)
            case 3: octet = (a & 0xFF) &* 100 &+ (a >> 8 & 0xFF) &* 10 &+ (a >> 16 & 0xFF)
            default: return nil
            }
            if octet > 255 { return nil }
            j &+= count
            v = v << 8 | octet
            if part == 3 { break }
            guard p[j] == Byte.dot else { return nil }
            j &+= 1
            part &+= 1
        }
        if p[j] != Byte.space { return nil }
        i = j
        return v
    }

    /// `SRC=`/`DST=`'s value at `i`: a dotted quad here, anything else through `address`.
    @inline(__always) mutating func fastAddress(_ i: inout Int) -> IPAddress? {
        if let v = NfLogScanner.quad(p, n, &i) { return IPAddress(v4: v) }
        self.i = i
        let a = address()
        i = self.i
        return a
    }

    /// The value of `IN=` and friends: up to the next space (nil when empty).
    @inline(__always) static func word(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> ByteRange? {
        let s = i
        i = spaceOrEnd(p, n, i)
        return i > s ? ByteRange(s, i) : nil
    }

    mutating func fastPath() {
        let p = self.p
        let n = self.n
        var i = self.i
        defer { self.i = i }
        // IN= OUT= [PHYSIN= PHYSOUT=] [MAC=]: a prefix read before gives its ranges without reading it again.
        guard NfLogScanner.lit(p, n, i, Lit.IN, 3) else { return }
        let start = i
        let known = prefixes.find(p, n, i)
        if known.entry >= 0 {
            let r = prefixes.results + known.entry
            @inline(__always) func range(_ x: (Int, Int)) -> ByteRange? {
                x.0 < 0 ? nil : ByteRange(start &+ x.0, start &+ x.1)
            }
            inIface = range(r.pointee.inIface)
            outIface = range(r.pointee.outIface)
            physIn = range(r.pointee.physIn)
            physOut = range(r.pointee.physOut)
            macSrc = range(r.pointee.macSrc)
            macDst = range(r.pointee.macDst)
            sawIN = true
            sawMAC = r.pointee.sawMAC
            touched = r.pointee.touched
            if let m = r.pointee.macProto { header.macProto = m }
            i = start &+ known.length
            prefixEntry = known.entry
            prefixStart = start
        } else {
            guard fastPrefix(p, n, &i) else { return }
            if extra.isEmpty {
                @inline(__always) func relative(_ x: ByteRange?) -> (Int, Int) {
                    guard let x else { return (-1, 0) }
                    return (x.start &- start, x.end &- start)
                }
                let result = DumpPrefixCache.Result(
                    inIface: relative(inIface), outIface: relative(outIface), physIn: relative(physIn),
                    physOut: relative(physOut), macSrc: relative(macSrc), macDst: relative(macDst), sawMAC: sawMAC,
                    touched: touched, macProto: header.macProto)
                prefixEntry = prefixes.store(p, start, i, result)
                prefixStart = start
            }
        }
        // SRC= DST=
        guard NfLogScanner.lit(p, n, i, Lit.SRC, 4) else { return }
        // The body from here: one read before gives the header without reading it again (only over
        // a header nothing but the prefix's MAC protocol was set in, as a new record's is).
        let bodyStart = i
        var body = (slot: -1, hit: false, ttl: NfLogScanner.failed, hash: UInt64(0))
        if header.present.subtracting(.macProto).isEmpty && header.rare.isEmpty && header.tcpFlags.isEmpty
            && header.ipFlags.isEmpty
        {
            body = bodies.find(p, i, n)
            if body.hit {
                applyBody(bodies.results + body.slot, bodyStart, ttl: body.ttl)
                i = n
                readToEnd = true
                return
            }
        }
        let bodyExtraStart = extra.count
        // Where the IPv4 TTL's digits are, relative to the body (-1: none).
        var ttlAt = -1
        var ttlLength = 0
        var ts = i
        i &+= 4
        guard let src = fastAddress(&i) else {
            i = ts
            return
        }
        touched = true
        header.src = src
        guard NfLogScanner.sep(p, n, &i), NfLogScanner.lit(p, n, i, Lit.DST, 4) else { return }
        ts = i
        i &+= 4
        guard let dst = fastAddress(&i) else {
            i = ts
            return
        }
        header.dst = dst
        guard NfLogScanner.sep(p, n, &i) else { return }
        let len = NfLogScanner.field(p, n, &i, Lit.LEN, 4, UInt64(UInt32.max))
        guard len != NfLogScanner.failed else { return }
        header.length = UInt32(truncatingIfNeeded: len)
        guard NfLogScanner.sep(p, n, &i) else { return }
        if NfLogScanner.lit(p, n, i, Lit.TOS, 4) {
            // IPv4: TOS=0x%02X PREC=0x%02X TTL=%u ID=%u [CE] [DF] [MF]
            var j = i &+ 4
            let tos = NfLogScanner.hex2(p, n, &j)
            // Not the kernel's `0x%02X`: the generic loop reads it from the start of the token.
            guard tos != NfLogScanner.failed else { return }
            i = j
            header.tos = UInt8(truncatingIfNeeded: tos)
            guard NfLogScanner.sep(p, n, &i), NfLogScanner.lit(p, n, i, Lit.PREC, 5) else { return }
            j = i &+ 5
            let prec = NfLogScanner.hex2(p, n, &j)
            guard prec != NfLogScanner.failed else { return }
            i = j
            header.tos = UInt8(truncatingIfNeeded: tos | prec)
            guard NfLogScanner.sep(p, n, &i) else { return }
            let ttlStart = i &+ 4
            let ttl = NfLogScanner.field(p, n, &i, Lit.TTL, 4, 0xFF)
            guard ttl != NfLogScanner.failed else { return }
            header.ttl = UInt8(truncatingIfNeeded: ttl)
            ttlAt = ttlStart &- bodyStart
            ttlLength = i &- ttlStart
            guard NfLogScanner.sep(p, n, &i) else { return }
            let id = NfLogScanner.field(p, n, &i, Lit.ID, 3, 0xFFFF)
            guard id != NfLogScanner.failed else { return }
            header.ipID = UInt32(truncatingIfNeeded: id)
            guard NfLogScanner.sep(p, n, &i) else { return }
            var flags = IPFlags()
            if NfLogScanner.lit(p, n, i, Lit.CE, 3) {
                flags.insert(.ce)
                i &+= 3
            }
            if NfLogScanner.lit(p, n, i, Lit.DF, 3) {
                flags.insert(.df)
                i &+= 3
            }
            if NfLogScanner.lit(p, n, i, Lit.MF, 3) {
                flags.insert(.mf)
                i &+= 3
            }
            if !flags.isEmpty { header.ipFlags.formUnion(flags) }
        } else if NfLogScanner.lit(p, n, i, Lit.TC, 3) {
            // IPv6: TC=%u HOPLIMIT=%u FLOWLBL=%u (a non-zero flow label is left to the generic loop)
            let tc = NfLogScanner.field(p, n, &i, Lit.TC, 3, 0xFF)
            guard tc != NfLogScanner.failed else { return }
            header.tos = UInt8(truncatingIfNeeded: tc)
            guard NfLogScanner.sep(p, n, &i), NfLogScanner.lit(p, n, i, Lit.HOPLIMIT, 8), i &+ 9 <= n,
                p[i &+ 8] == Byte.equal
            else { return }
            var j = i &+ 9
            let hop = NfLogScanner.dec(p, n, &j, 0xFF)
            guard hop != NfLogScanner.failed else { return }
            i = j
            header.ttl = UInt8(truncatingIfNeeded: hop)
            guard NfLogScanner.sep(p, n, &i) else { return }
            if NfLogScanner.lit(p, n, i, Lit.FLOWLBL0, 8) && i &+ 10 <= n && p[i &+ 8] == 0x30
                && p[i &+ 9] == Byte.space
            {
                i &+= 10
            }
        } else {
            return
        }
        // PROTO=: a tail read before gives its fields without reading it again.
        guard NfLogScanner.lit(p, n, i, Lit.PROTO, 6) else { return }
        let found = tails.find(p, i, n)
        if found.hit {
            let r = tails.results + found.slot
            header.transport = r.pointee.transport
            l4 = true
            keepCached(r.pointee.extras, r.pointee.extraCount, at: i)
            i = n
            readToEnd = true
            if body.slot >= 0 { storeBody(body.slot, body.hash, bodyStart, bodyExtraStart, ttlAt, ttlLength) }
            return
        }
        let tailStart = i
        let extraStart = extra.count
        fastTail(p, n, &i)
        let kept = extra.count &- extraStart
        // Only a tail read to the end of the line by this path (the generic loop would do nothing
        // after it) depends on its bytes alone.
        guard !inOptGroup, kept <= 4, NfLogScanner.onlySpaces(p, n, i) else { return }
        readToEnd = true
        if body.slot >= 0 { storeBody(body.slot, body.hash, bodyStart, bodyExtraStart, ttlAt, ttlLength) }
        guard found.slot >= 0 else { return }
        var result = TailCache.Result()
        result.transport = header.transport
        result.extraCount = kept >> 1
        if kept > 0 {
            (result.extras.0, result.extras.1) = (extra[extraStart] &- tailStart, extra[extraStart &+ 1] &- tailStart)
        }
        if kept > 2 {
            (result.extras.2, result.extras.3) = (
                extra[extraStart &+ 2] &- tailStart, extra[extraStart &+ 3] &- tailStart
            )
        }
        tails.store(p, tailStart, n, slot: found.slot, hash: found.hash, result)
    }

    /// Sets what the body at `start` gave (`r`, a `bodies` hit) over the prefix's header: the header
    /// but the MAC protocol, and the kept tokens.
    @inline(never) private mutating func applyBody(
        _ r: UnsafeMutablePointer<BodyCache.Result>, _ start: Int, ttl: UInt64
    ) {
        let macProto = header.macProto
        // Neither header has a box (see `storeBody`), so the bytes are the copy.
        withUnsafeMutablePointer(to: &header) { to in
            withUnsafeMutablePointer(to: &r.pointee.header) { from in
                UnsafeMutableRawPointer(to).copyMemory(from: from, byteCount: MemoryLayout<PacketHeader>.size)
            }
        }
        header.macProto = macProto
        if ttl != NfLogScanner.failed { header.ttl = UInt8(truncatingIfNeeded: ttl) }
        touched = true
        l4 = true
        keepCached(r.pointee.extras, r.pointee.extraCount, at: start)
    }

    /// Keeps the tokens a cached tail or body kept (`count` pairs of offsets from its start), read
    /// again from `base`.
    @inline(__always) private mutating func keepCached(_ extras: (Int, Int, Int, Int), _ count: Int, at base: Int) {
        guard count > 0 else { return }
        extra.append(base &+ extras.0)
        extra.append(base &+ extras.1)
        if count > 1 {
            extra.append(base &+ extras.2)
            extra.append(base &+ extras.3)
        }
    }

    /// Keeps the body read from `start` to the end of the line in `slot`, with the header, the tokens
    /// kept since `extraStart` and where its TTL is, when the header has no box and at most two were
    /// kept.
    /// Written in place: a `Result` built and assigned went through the header's value witnesses, 300
    /// instructions a store (callgrind, scripts/icount.sh on t10).
    @inline(never) private mutating func storeBody(
        _ slot: Int, _ hash: UInt64, _ start: Int, _ extraStart: Int, _ ttlAt: Int, _ ttlLength: Int
    ) {
        let count = extra.count
        let kept = count &- extraStart
        guard kept <= 4, header.rare.isEmpty else { return }
        bodies.store(p, start, n, slot: slot, hash: hash)
        let r = bodies.results + slot
        r.pointee.ttlAt = ttlAt
        r.pointee.ttlLength = ttlLength
        // Neither header has a box (only boxless ones are kept), so the bytes are the copy.
        withUnsafeMutablePointer(to: &header) { from in
            withUnsafeMutablePointer(to: &r.pointee.header) { to in
                UnsafeMutableRawPointer(to).copyMemory(from: from, byteCount: MemoryLayout<PacketHeader>.size)
            }
        }
        r.pointee.extraCount = kept >> 1
        extra.withUnsafeBufferPointer { x in
            if kept > 0 { r.pointee.extras.0 = x[extraStart] &- start }
            if kept > 0 { r.pointee.extras.1 = x[extraStart &+ 1] &- start }
            if kept > 2 { r.pointee.extras.2 = x[extraStart &+ 2] &- start }
            if kept > 2 { r.pointee.extras.3 = x[extraStart &+ 3] &- start }
        }
    }

    /// `IN= OUT= [PHYSIN= PHYSOUT=] [MAC=]` (`i` at `IN=`): whether it was read up to `SRC=`.
    @inline(never) private mutating func fastPrefix(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) -> Bool {
        i &+= 3
        inIface = NfLogScanner.word(p, n, &i)
        sawIN = true
        guard NfLogScanner.sep(p, n, &i), NfLogScanner.lit(p, n, i, Lit.OUT, 4) else { return false }
        i &+= 4
        outIface = NfLogScanner.word(p, n, &i)
        guard NfLogScanner.sep(p, n, &i) else { return false }
        if p[i] == 0x50 {  // P
            if NfLogScanner.lit(p, n, i, Lit.PHYSIN, 7) {
                i &+= 7
                physIn = NfLogScanner.word(p, n, &i)
                guard NfLogScanner.sep(p, n, &i) else { return false }
            }
            if NfLogScanner.lit(p, n, i, Lit.PHYSOUT, 8) {
                i &+= 8
                physOut = NfLogScanner.word(p, n, &i)
                guard NfLogScanner.sep(p, n, &i) else { return false }
            }
        }
        if NfLogScanner.lit(p, n, i, Lit.MAC, 4) {
            let ts = i
            self.i = i &+ 4
            macField(ts)
            i = self.i
            guard NfLogScanner.sep(p, n, &i) else { return false }
        }
        return NfLogScanner.lit(p, n, i, Lit.SRC, 4)
    }

    /// Whether only spaces are left from `i` to the end of the line.
    @inline(__always) static func onlySpaces(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: Int) -> Bool {
        var j = i
        while j < n {
            if p[j] != Byte.space { return false }
            j &+= 1
        }
        return true
    }

    /// The dump from `PROTO=` (at `i`) on: the transport header's fields.
    @inline(never) private mutating func fastTail(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) {
        let proto: UInt8
        if NfLogScanner.lit(p, n, i &+ 6, Lit.TCP, 3) && (i &+ 9 == n || p[i &+ 9] == Byte.space) {
            proto = IPProtocol.tcp
            i &+= 9
        } else if NfLogScanner.lit(p, n, i &+ 6, Lit.UDP, 3) && (i &+ 9 == n || p[i &+ 9] == Byte.space) {
            proto = IPProtocol.udp
            i &+= 9
        } else {
            self.i = i &+ 6
            guard let v = protocolValue() else { return }
            proto = v
            i = self.i
        }
        header.proto = proto
        l4 = true
        guard NfLogScanner.sep(p, n, &i) else { return }
        switch proto {
        case IPProtocol.tcp, IPProtocol.udp, IPProtocol.udplite:
            let sport = NfLogScanner.field(p, n, &i, Lit.SPT, 4, 0xFFFF)
            guard sport != NfLogScanner.failed else { return }
            header.sport = UInt16(truncatingIfNeeded: sport)
            guard NfLogScanner.sep(p, n, &i) else { return }
            let dport = NfLogScanner.field(p, n, &i, Lit.DPT, 4, 0xFFFF)
            guard dport != NfLogScanner.failed else { return }
            header.dport = UInt16(truncatingIfNeeded: dport)
            guard proto == IPProtocol.tcp, NfLogScanner.sep(p, n, &i) else { return }
            let seq = NfLogScanner.field32(p, n, &i, Lit.SEQ)
            if seq != NfLogScanner.failed {
                header.tcpSeq = UInt32(truncatingIfNeeded: seq)
                guard NfLogScanner.sep(p, n, &i) else { return }
                let ack = NfLogScanner.field32(p, n, &i, Lit.ACK)
                guard ack != NfLogScanner.failed else { return }
                header.tcpAck = UInt32(truncatingIfNeeded: ack)
                guard NfLogScanner.sep(p, n, &i) else { return }
            }
            let window = NfLogScanner.field(p, n, &i, Lit.WINDOW, 7, 0xFFFF)
            guard window != NfLogScanner.failed else { return }
            header.window = UInt16(truncatingIfNeeded: window)
            guard NfLogScanner.sep(p, n, &i) else { return }
            tcpTail(p, n, &i)
        case IPProtocol.icmp, IPProtocol.icmpv6:
            let type = NfLogScanner.field(p, n, &i, Lit.TYPE, 5, 0xFF)
            guard type != NfLogScanner.failed else { return }
            header.icmpType = UInt8(truncatingIfNeeded: type)
            guard NfLogScanner.sep(p, n, &i) else { return }
            let code = NfLogScanner.field(p, n, &i, Lit.CODE, 5, 0xFF)
            guard code != NfLogScanner.failed else { return }
            header.icmpCode = UInt8(truncatingIfNeeded: code)
            guard NfLogScanner.sep(p, n, &i) else { return }
            let id = NfLogScanner.field(p, n, &i, Lit.ID, 3, 0xFFFF)
            guard id != NfLogScanner.failed else { return }
            header.icmpID = UInt16(truncatingIfNeeded: id)
            guard NfLogScanner.sep(p, n, &i) else { return }
            let seq = NfLogScanner.field(p, n, &i, Lit.SEQ, 4, 0xFFFF)
            guard seq != NfLogScanner.failed else { return }
            header.icmpSeq = UInt16(truncatingIfNeeded: seq)
        default:
            return
        }
    }

    /// `RES=0x00 <flags> URGP=0 [OPT (...)]` after `WINDOW=`.
    private mutating func tcpTail(_ p: UnsafePointer<UInt8>, _ n: Int, _ i: inout Int) {
        if NfLogScanner.lit(p, n, i, Lit.RES0, 8) && (i &+ 8 == n || p[i &+ 8] == Byte.space) {
            i &+= 8
            guard NfLogScanner.sep(p, n, &i) else { return }
        }
        var flags = TCPFlags()
        defer { if !flags.isEmpty { header.tcpFlags.formUnion(flags) } }
        while i &+ 2 <= n {
            // Two or three capitals and a space (or the end): SYN, ACK, FIN, RST, PSH, URG, ECE, CWR, AE.
            let len: Int
            if i &+ 2 == n || p[i &+ 2] == Byte.space {
                len = 2
            } else if i &+ 3 == n || p[i &+ 3] == Byte.space {
                len = 3
            } else {
                break
            }
            let flag: TCPFlags
            switch Byte.load(p + i, len) {
            case FieldKey.SYN: flag = .syn
            case FieldKey.ACK: flag = .ack
            case FieldKey.FIN: flag = .fin
            case FieldKey.RST: flag = .rst
            case FieldKey.PSH: flag = .psh
            case FieldKey.URG: flag = .urg
            case FieldKey.ECE: flag = .ece
            case FieldKey.CWR: flag = .cwr
            case FieldKey.AE: flag = .ae
            default: return
            }
            flags.insert(flag)
            i &+= len
            guard NfLogScanner.sep(p, n, &i) else { return }
        }
        if NfLogScanner.lit(p, n, i, Lit.URGP0, 6) && (i &+ 6 == n || p[i &+ 6] == Byte.space) {
            i &+= 6
            guard NfLogScanner.sep(p, n, &i) else { return }
        }
        if NfLogScanner.lit(p, n, i, Lit.OPTparen, 5) {
            let ts = i
            self.i = i &+ 3
            options(ts)
            i = self.i
        }
    }
}
