import PathTraceCore

/// A packet as a capture file holds it: the bytes from the network header on, and its length on the wire
/// (more than `bytes.count` when only its start was kept).
public struct CapturedPacket: Sendable, Equatable {
    public var bytes: [UInt8]
    public var originalLength: Int

    public init(bytes: [UInt8], originalLength: Int) {
        self.bytes = bytes
        self.originalLength = originalLength
    }
}

/// Makes the packet a walk's capture shows: the kernel's own bytes where the source kept them, otherwise
/// a packet rebuilt from the header fields a trace line printed, with its lengths and checksums right.
public enum PacketBuilder {
    // MARK: - The kernel's bytes

    /// The kernel's bytes (from the network header), trimmed to the IP length; nil unless they start
    /// with an IPv4 or IPv6 header.
    ///
    /// When the whole packet is there, a TCP or UDP checksum that does not add up is filled in: a packet
    /// sent from this host or from a neighbouring namespace over veth is still CHECKSUM_PARTIAL when
    /// netfilter sees it, its checksum field holding only the pseudo-header's sum because the device
    /// (or veth's receiver, which trusts it) finishes the job. The sum is completed as the device would.
    public static func kernel(_ raw: [UInt8]) -> CapturedPacket? {
        guard let first = raw.first else { return nil }
        let total: Int
        switch first >> 4 {
        case 4:
            guard raw.count >= 20, first & 0x0F >= 5 else { return nil }
            total = Int(u16(raw, 2))
        case 6:
            guard raw.count >= 40 else { return nil }
            total = Int(u16(raw, 4)) + 40
        default:
            return nil
        }
        var bytes = raw
        if total >= 20 && bytes.count > total { bytes.removeLast(bytes.count - total) }
        if bytes.count == total { completeTransportChecksum(&bytes) }
        return CapturedPacket(bytes: bytes, originalLength: max(total, bytes.count))
    }

    /// Rewrites a TCP or UDP checksum that does not add up, in a whole, unfragmented packet whose
    /// transport header follows the IP header.
    static func completeTransportChecksum(_ p: inout [UInt8]) {
        let v6 = p[0] >> 4 == 6
        let ipLength: Int
        let proto: UInt8
        if v6 {
            ipLength = 40
            proto = p[6]
        } else {
            ipLength = Int(p[0] & 0x0F) * 4
            proto = p[9]
            // A fragment: the transport checksum covers bytes of other fragments.
            if u16(p, 6) & 0x3FFF != 0 { return }
        }
        let at: Int
        switch proto {
        case IPProtocol.tcp: at = ipLength + 16
        case IPProtocol.udp: at = ipLength + 6
        default: return
        }
        guard at + 2 <= p.count else { return }
        // IPv4 UDP without a checksum.
        if proto == IPProtocol.udp && !v6 && u16(p, at) == 0 { return }
        var sum = pseudoHeader(p, v6: v6, proto: proto, length: p.count - ipLength)
        sum.add(p[ipLength...])
        if sum.folded == 0xFFFF { return }
        p[at] = 0
        p[at + 1] = 0
        var fresh = pseudoHeader(p, v6: v6, proto: proto, length: p.count - ipLength)
        fresh.add(p[ipLength...])
        var value = fresh.value
        if value == 0 && proto == IPProtocol.udp { value = 0xFFFF }
        put16(&p, at, value)
    }

    /// The pseudo-header sum of the packet in `p` (its addresses at their fixed places).
    private static func pseudoHeader(_ p: [UInt8], v6: Bool, proto: UInt8, length: Int) -> InternetChecksum {
        var sum = InternetChecksum()
        if v6 {
            sum.add(p[8..<40])
            sum.add(UInt32(length))
        } else {
            sum.add(p[12..<20])
            sum.add(UInt16(length))
        }
        sum.add(UInt16(proto))
        return sum
    }

    // MARK: - Rebuilt from header fields

    /// A packet made from the fields a trace line printed: IPv4 (with its options when the line shows
    /// them) or IPv6 (with a fragment header when fragmented), then TCP (with the logged options), UDP,
    /// ICMP or ICMPv6 (an error quotes the embedded header as a packet of its own). Unknown fields are 0,
    /// a missing TTL is 64. Only the headers are written: the payload was never logged, so the packet is
    /// cut after them with its logged length as the original length, and Wireshark shows it as limited
    /// during capture rather than decoding made-up bytes as DNS or mDNS. Length fields are the logged
    /// ones; transport checksums are those of a zero payload, so a packet without payload (a SYN, an ACK)
    /// checks out whole. Nil without both addresses.
    public static func rebuild(_ h: PacketHeader) -> CapturedPacket? {
        guard let (bytes, total) = build(h, budget: Int.max) else { return nil }
        return CapturedPacket(bytes: bytes, originalLength: total)
    }

    /// The whole rebuilt packet, or its first `budget` bytes (for a packet quoted in an ICMP error).
    static func build(_ h: PacketHeader, budget: Int) -> (bytes: [UInt8], total: Int)? {
        guard let src = h.src, let dst = h.dst, src.isV6 == dst.isV6 else { return nil }
        let v6 = src.isV6
        let logged = LoggedOptions(h.extra, proto: h.proto, v6: v6)
        let proto = h.proto ?? (v6 ? 59 : 255)
        let offset = h.fragment ?? 0
        let fragmented = offset != 0 || h.ipFlags.contains(.mf)
        var fragmentHeader: [UInt8] = []
        if v6 && fragmented {
            fragmentHeader = [proto, 0]
            append16(&fragmentHeader, UInt16(truncatingIfNeeded: offset) & 0xFFF8 | (h.ipFlags.contains(.mf) ? 1 : 0))
            append32(&fragmentHeader, h.ipID ?? 0)
        }
        let ipLength = v6 ? 40 + fragmentHeader.count : 20 + logged.ip.count
        // Only the first fragment starts with the transport header.
        var transport = offset == 0 ? transportHeader(h, proto: proto, v6: v6, options: logged) : []
        let minimal = ipLength + transport.count
        let total = min(max(Int(h.length ?? 0), minimal), v6 ? 0xFFFF + 40 : 0xFFFF)
        if offset == 0 && !fragmented {
            finishTransport(&transport, proto: proto, src: src, dst: dst, length: total - ipLength)
        }

        var p: [UInt8] = []
        p.reserveCapacity(ipLength + transport.count)
        if v6 {
            let flow = logged.flowLabel ?? 0
            append32(&p, 6 << 28 | UInt32(h.tos ?? 0) << 20 | flow & 0xF_FFFF)
            append16(&p, UInt16(total - 40))
            p.append(fragmentHeader.isEmpty ? proto : 44)
            p.append(h.ttl ?? 64)
            appendAddress(&p, src)
            appendAddress(&p, dst)
            p.append(contentsOf: fragmentHeader)
        } else {
            p.append(0x40 | UInt8(ipLength / 4))
            p.append(h.tos ?? 0)
            append16(&p, UInt16(total))
            append16(&p, UInt16(truncatingIfNeeded: h.ipID ?? 0))
            var flags: UInt16 = 0
            if h.ipFlags.contains(.ce) { flags |= 0x8000 }
            if h.ipFlags.contains(.df) { flags |= 0x4000 }
            if h.ipFlags.contains(.mf) { flags |= 0x2000 }
            append16(&p, flags | UInt16(truncatingIfNeeded: offset) & 0x1FFF)
            p.append(h.ttl ?? 64)
            p.append(proto)
            append16(&p, 0)
            appendAddress(&p, src)
            appendAddress(&p, dst)
            p.append(contentsOf: logged.ip)
            var sum = InternetChecksum()
            sum.add(p[0..<ipLength])
            put16(&p, 10, sum.value)
        }
        p.append(contentsOf: transport)
        let size = min(total, budget)
        if p.count > size { p.removeLast(p.count - size) }
        return (p, total)
    }

    /// The transport header with its checksum field zero (and, for ICMP errors, the quoted packet).
    static func transportHeader(_ h: PacketHeader, proto: UInt8, v6: Bool, options: LoggedOptions) -> [UInt8] {
        var t: [UInt8] = []
        switch proto {
        case IPProtocol.tcp:
            append16(&t, h.sport ?? 0)
            append16(&t, h.dport ?? 0)
            append32(&t, h.tcpSeq ?? 0)
            append32(&t, h.tcpAck ?? 0)
            let words = UInt8((20 + options.tcp.count) / 4)
            t.append(words << 4 | UInt8(truncatingIfNeeded: h.tcpFlags.rawValue >> 8) & 1)
            t.append(UInt8(truncatingIfNeeded: h.tcpFlags.rawValue))
            append16(&t, h.window ?? 0)
            append16(&t, 0)
            append16(&t, 0)
            t.append(contentsOf: options.tcp)
        case IPProtocol.udp, IPProtocol.udplite:
            append16(&t, h.sport ?? 0)
            append16(&t, h.dport ?? 0)
            append32(&t, 0)
        case IPProtocol.icmp, IPProtocol.icmpv6:
            let type = h.icmpType ?? 0
            t.append(type)
            t.append(h.icmpCode ?? 0)
            append16(&t, 0)
            let echo: Set<UInt8> = proto == IPProtocol.icmp ? [0, 8] : [128, 129]
            let tooBig = proto == IPProtocol.icmp ? type == 3 && h.icmpCode == 4 : type == 2
            if echo.contains(type) {
                append16(&t, h.icmpID ?? 0)
                append16(&t, h.icmpSeq ?? 0)
            } else if tooBig {
                append32(&t, options.mtu ?? 0)
            } else {
                append32(&t, 0)
            }
            if let e = h.embedded, let quoted = quotedPacket(e, budget: Int(h.length ?? 0)) {
                t.append(contentsOf: quoted)
            }
        default:
            break
        }
        return t
    }

    /// The packet an ICMP error quotes, rebuilt from the embedded header as far as the outer length allows
    /// (at least its IP header and eight bytes, as RFC 792 quotes).
    static func quotedPacket(_ e: EmbeddedHeader, budget outer: Int) -> [UInt8]? {
        var inner = PacketHeader()
        inner.src = e.src
        inner.dst = e.dst
        inner.proto = e.proto
        inner.sport = e.sport
        inner.dport = e.dport
        inner.ipID = e.ipID
        inner.length = e.length
        let v6 = e.src?.isV6 ?? false
        let headers = (v6 ? 40 : 20) + 8
        // What is left of the outer packet after its IP and ICMP headers.
        let room = outer - (v6 ? 40 : 20) - 8
        return build(inner, budget: max(room, headers))?.bytes
    }

    /// Fills the length and checksum fields of a whole, unfragmented packet's transport header.
    static func finishTransport(_ t: inout [UInt8], proto: UInt8, src: IPAddress, dst: IPAddress, length: Int) {
        let at: Int
        switch proto {
        case IPProtocol.tcp: at = 16
        case IPProtocol.udp:
            at = 6
            put16(&t, 4, UInt16(truncatingIfNeeded: length))
        case IPProtocol.udplite: at = 6
        case IPProtocol.icmp, IPProtocol.icmpv6: at = 2
        default: return
        }
        guard t.count >= at + 2 else { return }
        var sum = InternetChecksum()
        // ICMP for IPv4 is the one without a pseudo-header.
        if proto != IPProtocol.icmp {
            var pseudo: [UInt8] = []
            appendAddress(&pseudo, src)
            appendAddress(&pseudo, dst)
            sum.add(pseudo[...])
            if src.isV6 { sum.add(UInt32(length)) } else { sum.add(UInt16(truncatingIfNeeded: length)) }
            sum.add(UInt16(proto))
        }
        sum.add(t[...])
        var value = sum.value
        if value == 0 && proto == IPProtocol.udp { value = 0xFFFF }
        put16(&t, at, value)
    }

    // MARK: - Bytes

    static func u16(_ p: [UInt8], _ i: Int) -> UInt16 { UInt16(p[i]) << 8 | UInt16(p[i + 1]) }

    static func put16(_ p: inout [UInt8], _ i: Int, _ v: UInt16) {
        p[i] = UInt8(v >> 8)
        p[i + 1] = UInt8(truncatingIfNeeded: v)
    }

    static func append16(_ p: inout [UInt8], _ v: UInt16) {
        p.append(UInt8(v >> 8))
        p.append(UInt8(truncatingIfNeeded: v))
    }

    static func append32(_ p: inout [UInt8], _ v: UInt32) {
        append16(&p, UInt16(v >> 16))
        append16(&p, UInt16(truncatingIfNeeded: v))
    }

    static func appendAddress(_ p: inout [UInt8], _ a: IPAddress) {
        if a.isV6 {
            for k in stride(from: 56, through: 0, by: -8) { p.append(UInt8(truncatingIfNeeded: a.high >> UInt64(k))) }
            for k in stride(from: 56, through: 0, by: -8) { p.append(UInt8(truncatingIfNeeded: a.low >> UInt64(k))) }
        } else {
            append32(&p, UInt32(truncatingIfNeeded: a.low))
        }
    }
}

/// What a kernel-log line printed beyond the parsed fields that a rebuilt packet can use: the IPv4 and
/// TCP options (`OPT (hex)`, kept verbatim in `extra`), the IPv6 flow label, an ICMP error's MTU.
struct LoggedOptions {
    var ip: [UInt8] = []
    var tcp: [UInt8] = []
    var flowLabel: UInt32?
    var mtu: UInt32?

    /// nf_log prints IPv4 options after the IP fields and TCP options after the TCP fields, both as
    /// `OPT (hex)`: with two, the first is the IP header's; with one, it is TCP's in a TCP packet (IP
    /// options are rare outside IGMP) and the IP header's otherwise. IPv6 extension headers print as
    /// `OPT ( … )` with spaces and are not kept here.
    init(_ extra: [String], proto: UInt8?, v6: Bool) {
        var hex: [[UInt8]] = []
        for item in extra {
            if item.hasPrefix("OPT ("), item.hasSuffix(")"), let bytes = Self.bytes(hex: item.dropFirst(5).dropLast()) {
                hex.append(bytes)
            } else if item.hasPrefix("FLOWLBL=") {
                flowLabel = UInt32(item.dropFirst(8))
            } else if item.hasPrefix("MTU=") {
                mtu = UInt32(item.dropFirst(4))
            }
        }
        let tcp = proto == IPProtocol.tcp
        if hex.count >= 2 && !v6 {
            ip = hex[0]
            if tcp { self.tcp = hex[1] }
        } else if let only = hex.first {
            if tcp { self.tcp = only } else if !v6 { ip = only }
        }
        // Options fill whole 32-bit words and at most 40 bytes; anything else cannot be the header's.
        if ip.count % 4 != 0 || ip.count > 40 { ip = [] }
        if self.tcp.count % 4 != 0 || self.tcp.count > 40 { self.tcp = [] }
    }

    static func bytes(hex: Substring) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard !digits.isEmpty, digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var i = 0
        while i < digits.count {
            guard let hi = nibble(digits[i]), let lo = nibble(digits[i + 1]) else { return nil }
            out.append(hi << 4 | lo)
            i += 2
        }
        return out
    }

    static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
