/// The canonical nf_log layout, parsed in the kernel's own order.
///
/// nf_log_syslog always prints `IN= OUT= [PHYSIN= PHYSOUT=] [MAC=] SRC= DST= LEN= TOS= PREC= TTL= ID=
/// [CE DF MF] PROTO=...` (IPv6: `LEN= TC= HOPLIMIT= FLOWLBL=`), so instead of reading each key and
/// dispatching on it, the fast path checks that the expected key is next with one masked word compare.
/// At the first surprise it stops, rewinds to the start of that token, and the generic loop in `run`
/// carries on from there, so the result is the same as without it.
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
    }

    /// Whether the `len` bytes at `i` are `value` (packed little-endian).
    @inline(__always) func lit(_ value: UInt64, _ len: Int) -> Bool {
        if i &+ 8 <= n {
            let w = UInt64(littleEndian: UnsafeRawPointer(p + i).loadUnaligned(as: UInt64.self))
            let mask: UInt64 = len >= 8 ? .max : (1 << (UInt64(len) &* 8)) &- 1
            return w & mask == value
        }
        return i &+ len <= n && Byte.load(p + i, len) == value
    }

    /// Steps over the single space between fields; false at the end of the line.
    @inline(__always) mutating func separator() -> Bool {
        if i < n && p[i] == Byte.space {
            i &+= 1
            return i < n
        }
        return false
    }

    /// A decimal field `KEY=value ` at `i`; rewinds and returns nil when it is not exactly that.
    @inline(__always) mutating func decimalField(_ key: UInt64, _ len: Int, _ limit: UInt64) -> UInt64? {
        guard lit(key, len) else { return nil }
        let ts = i
        i &+= len
        guard let v = decimal(limit) else {
            i = ts
            return nil
        }
        return v
    }

    mutating func fastPath() {
        // IN= OUT=
        guard lit(Lit.IN, 3) else { return }
        i &+= 3
        inIface = word()
        sawIN = true
        guard separator(), lit(Lit.OUT, 4) else { return }
        i &+= 4
        outIface = word()
        guard separator() else { return }
        if lit(Lit.PHYSIN, 7) {
            i &+= 7
            physIn = word()
            guard separator() else { return }
        }
        if lit(Lit.PHYSOUT, 8) {
            i &+= 8
            physOut = word()
            guard separator() else { return }
        }
        if lit(Lit.MAC, 4) {
            let ts = i
            i &+= 4
            macField(ts)
            guard separator() else { return }
        }
        // SRC= DST=
        guard lit(Lit.SRC, 4) else { return }
        var ts = i
        i &+= 4
        guard let src = address() else {
            i = ts
            return
        }
        touched = true
        header.src = src
        guard separator(), lit(Lit.DST, 4) else { return }
        ts = i
        i &+= 4
        guard let dst = address() else {
            i = ts
            return
        }
        header.dst = dst
        guard separator() else { return }
        guard let len = decimalField(Lit.LEN, 4, UInt64(UInt32.max)) else { return }
        header.length = UInt32(len)
        guard separator() else { return }
        if lit(Lit.TOS, 4) {
            // IPv4: TOS=0x%02X PREC=0x%02X TTL=%u ID=%u [CE] [DF] [MF]
            ts = i
            i &+= 4
            guard let tos = hexadecimal(0xFF, prefixed: true) else {
                i = ts
                return
            }
            header.tos = UInt8(tos)
            guard separator(), lit(Lit.PREC, 5) else { return }
            ts = i
            i &+= 5
            guard let prec = hexadecimal(0xFF, prefixed: true) else {
                i = ts
                return
            }
            header.tos = UInt8(tos | prec)
            guard separator(), let ttl = decimalField(Lit.TTL, 4, 0xFF) else { return }
            header.ttl = UInt8(ttl)
            guard separator(), let id = decimalField(Lit.ID, 3, 0xFFFF) else { return }
            header.ipID = UInt32(id)
            guard separator() else { return }
            if lit(Lit.CE, 3) {
                header.ipFlags.insert(.ce)
                i &+= 3
            }
            if lit(Lit.DF, 3) {
                header.ipFlags.insert(.df)
                i &+= 3
            }
            if lit(Lit.MF, 3) {
                header.ipFlags.insert(.mf)
                i &+= 3
            }
        } else if lit(Lit.TC, 3) {
            // IPv6: TC=%u HOPLIMIT=%u FLOWLBL=%u (a non-zero flow label is left to the generic loop)
            guard let tc = decimalField(Lit.TC, 3, 0xFF) else { return }
            header.tos = UInt8(tc)
            guard separator(), lit(Lit.HOPLIMIT, 8), i + 9 <= n, p[i + 8] == Byte.equal else { return }
            ts = i
            i &+= 9
            guard let hop = decimal(0xFF) else {
                i = ts
                return
            }
            header.ttl = UInt8(hop)
            guard separator() else { return }
            if Byte.matches(p, n, i, "FLOWLBL=0 ") { i &+= 10 }
        } else {
            return
        }
        // PROTO=
        guard lit(Lit.PROTO, 6) else { return }
        ts = i
        i &+= 6
        guard let proto = protocolValue() else {
            i = ts
            return
        }
        header.proto = proto
        l4 = true
        guard separator() else { return }
        switch proto {
        case IPProtocol.tcp, IPProtocol.udp, IPProtocol.udplite:
            guard let sport = decimalField(Lit.SPT, 4, 0xFFFF) else { return }
            header.sport = UInt16(sport)
            guard separator(), let dport = decimalField(Lit.DPT, 4, 0xFFFF) else { return }
            header.dport = UInt16(dport)
            guard proto == IPProtocol.tcp, separator() else { return }
            if let seq = decimalField(Lit.SEQ, 4, UInt64(UInt32.max)) {
                header.tcpSeq = UInt32(seq)
                guard separator(), let ack = decimalField(Lit.ACK, 4, UInt64(UInt32.max)) else { return }
                header.tcpAck = UInt32(ack)
                guard separator() else { return }
            }
            guard let window = decimalField(Lit.WINDOW, 7, 0xFFFF) else { return }
            header.window = UInt16(window)
            guard separator() else { return }
            tcpTail()
        case IPProtocol.icmp, IPProtocol.icmpv6:
            guard let type = decimalField(Lit.TYPE, 5, 0xFF) else { return }
            header.icmpType = UInt8(type)
            guard separator(), let code = decimalField(Lit.CODE, 5, 0xFF) else { return }
            header.icmpCode = UInt8(code)
            guard separator(), let id = decimalField(Lit.ID, 3, 0xFFFF) else { return }
            header.icmpID = UInt16(id)
            guard separator(), let seq = decimalField(Lit.SEQ, 4, 0xFFFF) else { return }
            header.icmpSeq = UInt16(seq)
        default:
            return
        }
    }

    /// `RES=0x00 <flags> URGP=0 [OPT (...)]` after `WINDOW=`.
    private mutating func tcpTail() {
        if lit(Lit.RES0, 8) && (i + 8 == n || p[i + 8] == Byte.space) {
            i &+= 8
            guard separator() else { return }
        }
        while i < n {
            var e = i
            while e < n && e - i < 4 && p[e] != Byte.space { e &+= 1 }
            let len = e - i
            guard len == 2 || len == 3, e == n || p[e] == Byte.space else { break }
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
            header.tcpFlags.insert(flag)
            i = e
            guard separator() else { return }
        }
        if lit(Lit.URGP0, 6) && (i + 6 == n || p[i + 6] == Byte.space) {
            i &+= 6
            guard separator() else { return }
        }
        if lit(Lit.OPTparen, 5) {
            let ts = i
            i &+= 3
            options(ts)
        }
    }
}
