/// Decodes raw packet bytes (from the network header on) into a `PacketHeader`.
///
/// Fills the same fields the kernel-log parser reads from an nf_log dump: addresses, protocol, ports,
/// IP id, TTL or hop limit, total length, TOS or traffic class, IPv4 flags and fragment offset, TCP
/// sequence, acknowledgement, flags and window, ICMP type, code, echo id and sequence, and the
/// embedded header of an ICMP error. Every read is bounds-checked: truncated input gives a partial
/// header (with `incompleteBytes` set when the transport header is cut short), never a crash.
public enum PacketDecoder {
    /// Decodes a packet whose bytes start at the network header (an nfnetlink_log payload).
    public static func decode(_ packet: UnsafeRawBufferPointer) -> PacketHeader {
        decode(network: packet, transport: nil)
    }

    /// Decodes a packet held in an array, from the network header on.
    public static func decode(_ packet: [UInt8]) -> PacketHeader {
        packet.withUnsafeBytes { decode(network: $0, transport: nil) }
    }

    /// Decodes a network header and, when the source delivers it separately (nft trace's
    /// `NFTA_TRACE_TRANSPORT_HEADER`), the transport header. With `transport` nil the transport header
    /// is read from `network` after the IP header and its extension headers.
    public static func decode(network: UnsafeRawBufferPointer, transport: UnsafeRawBufferPointer?) -> PacketHeader {
        var header = PacketHeader()
        let n = PacketBytes(network)
        guard let first = n.u8(0) else { return header }
        switch first >> 4 {
        case 4: decodeIPv4(n, transport: transport.map(PacketBytes.init), into: &header)
        case 6: decodeIPv6(n, transport: transport.map(PacketBytes.init), into: &header)
        default: break
        }
        return header
    }

    /// Decodes separate network and transport headers held in arrays.
    public static func decode(network: [UInt8], transport: [UInt8]?) -> PacketHeader {
        network.withUnsafeBytes { nb in
            guard let transport else { return decode(network: nb, transport: nil) }
            return transport.withUnsafeBytes { tb in decode(network: nb, transport: tb) }
        }
    }

    /// Fills `macDst`, `macSrc` and `macProto` from an Ethernet header (dst, src, type), as the
    /// kernel log's `MAC=` field gives them. Shorter or non-Ethernet headers are ignored.
    public static func decodeEthernet(_ bytes: UnsafeRawBufferPointer, into header: inout PacketHeader) {
        let b = PacketBytes(bytes)
        guard b.count >= 14, let type = b.u16(12) else { return }
        header.macDst = b.mac(0)
        header.macSrc = b.mac(6)
        header.macProto = type
    }

    /// The same, with the addresses' names from `macs` when they were decoded lately.
    public static func decodeEthernet(
        _ bytes: UnsafeRawBufferPointer, into header: inout PacketHeader, macs: inout MacNames
    ) {
        let b = PacketBytes(bytes)
        guard b.count >= 14, let type = b.u16(12) else { return }
        header.macDstName = macs.name(b, 0)
        header.macSrcName = macs.name(b, 6)
        header.macProto = type
    }

    // MARK: - IPv4

    static func decodeIPv4(_ n: PacketBytes, transport: PacketBytes?, into h: inout PacketHeader) {
        guard let vihl = n.u8(0) else { return }
        let ihl = Int(vihl & 0x0F) * 4
        h.tos = n.u8(1)
        h.length = n.u16(2).map(UInt32.init)
        h.ipID = n.u16(4).map(UInt32.init)
        var offset: UInt16 = 0
        if let frag = n.u16(6) {
            if frag & 0x8000 != 0 { h.ipFlags.insert(.ce) }
            if frag & 0x4000 != 0 { h.ipFlags.insert(.df) }
            if frag & 0x2000 != 0 { h.ipFlags.insert(.mf) }
            offset = frag & 0x1FFF
            if offset != 0 { h.fragment = UInt32(offset) }
        }
        h.ttl = n.u8(8)
        h.proto = n.u8(9)
        h.src = n.u32(12).map { IPAddress(v4: $0) }
        h.dst = n.u32(16).map { IPAddress(v4: $0) }
        guard let proto = h.proto, ihl >= 20, offset == 0 else { return }
        let l4 = transport ?? n.dropping(ihl)
        guard let l4 else { return }
        decodeTransport(proto, l4, into: &h)
    }

    // MARK: - IPv6

    static func decodeIPv6(_ n: PacketBytes, transport: PacketBytes?, into h: inout PacketHeader) {
        if let w = n.u32(0) { h.tos = UInt8(truncatingIfNeeded: w >> 20) }
        h.length = n.u16(4).map { UInt32($0) + 40 }
        h.ttl = n.u8(7)
        h.src = n.v6(8)
        h.dst = n.v6(24)
        guard let next = n.u8(6) else { return }
        let walk = walkExtensions(n, first: next, at: 40, into: &h)
        guard let (proto, at) = walk else { return }
        h.proto = proto
        if h.fragment != nil { return }
        if let transport {
            decodeTransport(proto, transport, into: &h)
            return
        }
        guard let l4 = n.dropping(at) else { return }
        decodeTransport(proto, l4, into: &h)
    }

    /// Follows hop-by-hop, routing, destination-options, fragment and AH headers. Returns the upper
    /// protocol and its offset; nil when an extension header lies past the bytes (nft sends only the
    /// fixed 40-byte header), so the upper protocol is unknown.
    static func walkExtensions(_ n: PacketBytes, first: UInt8, at start: Int, into h: inout PacketHeader) -> (
        UInt8, Int
    )? {
        var next = first
        var at = start
        for _ in 0..<16 {
            switch next {
            case 0, 43, 60:
                // An extension header not in these bytes: the upper protocol is unknown.
                guard let nh = n.u8(at), let len = n.u8(at + 1) else { return nil }
                next = nh
                at += (Int(len) + 1) * 8
            case 44:
                guard let nh = n.u8(at), let fo = n.u16(at + 2) else { return nil }
                let offset = fo & 0xFFF8
                if offset != 0 { h.fragment = UInt32(offset) }
                if fo & 1 != 0 { h.ipFlags.insert(.mf) }
                if let id = n.u32(at + 4) { h.ipID = id }
                next = nh
                at += 8
                if offset != 0 { return (next, at) }
            case 51:
                guard let nh = n.u8(at), let len = n.u8(at + 1) else { return nil }
                next = nh
                at += (Int(len) + 2) * 4
            default:
                return (next, at)
            }
        }
        return (next, at)
    }

    // MARK: - Transport

    static func decodeTransport(_ proto: UInt8, _ t: PacketBytes, into h: inout PacketHeader) {
        switch proto {
        case IPProtocol.tcp:
            h.sport = t.u16(0)
            h.dport = t.u16(2)
            h.tcpSeq = t.u32(4)
            h.tcpAck = t.u32(8)
            if let off = t.u8(12), let flags = t.u8(13) {
                h.tcpFlags = TCPFlags(rawValue: UInt16(off & 1) << 8 | UInt16(flags))
            }
            h.window = t.u16(14)
            if t.count < 20 { h.incompleteBytes = t.count }
        case IPProtocol.udp, IPProtocol.udplite:
            h.sport = t.u16(0)
            h.dport = t.u16(2)
            if t.count < 8 { h.incompleteBytes = t.count }
        case IPProtocol.icmp:
            decodeICMP(t, into: &h)
        case IPProtocol.icmpv6:
            decodeICMPv6(t, into: &h)
        default:
            break
        }
    }

    static func decodeICMP(_ t: PacketBytes, into h: inout PacketHeader) {
        decodeICMP(t, echo: icmpEcho, errors: icmpErrors, into: &h)
    }

    static func decodeICMPv6(_ t: PacketBytes, into h: inout PacketHeader) {
        decodeICMP(t, echo: icmpv6Echo, errors: icmpv6Errors, into: &h)
    }

    static let icmpEcho: Set<UInt8> = [0, 8]
    static let icmpErrors: Set<UInt8> = [3, 4, 5, 11]
    static let icmpv6Echo: Set<UInt8> = [128, 129]
    static let icmpv6Errors: Set<UInt8> = [1, 2, 3, 4]

    /// ICMP and ICMPv6 share a layout: type, code, then an echo's id and sequence, or an error's
    /// embedded packet after 8 bytes; only the type numbers differ.
    static func decodeICMP(_ t: PacketBytes, echo: Set<UInt8>, errors: Set<UInt8>, into h: inout PacketHeader) {
        h.icmpType = t.u8(0)
        h.icmpCode = t.u8(1)
        if t.count < 8 { h.incompleteBytes = t.count }
        guard let type = h.icmpType else { return }
        if echo.contains(type) {
            h.icmpID = t.u16(4)
            h.icmpSeq = t.u16(6)
        } else if errors.contains(type), let inner = t.dropping(8), inner.count > 0 {
            h.embedded = embedded(inner)
        }
    }

    /// The header quoted inside an ICMP error: addresses, protocol, id, length and ports, one level.
    static func embedded(_ b: PacketBytes) -> EmbeddedHeader {
        var e = EmbeddedHeader()
        var inner = PacketHeader()
        guard let first = b.u8(0) else { return e }
        switch first >> 4 {
        case 4: decodeIPv4(b, transport: nil, into: &inner)
        case 6: decodeIPv6(b, transport: nil, into: &inner)
        default: return e
        }
        e.src = inner.src
        e.dst = inner.dst
        e.proto = inner.proto
        e.ipID = first >> 4 == 4 ? inner.ipID : nil
        e.length = inner.length
        if inner.proto == IPProtocol.tcp || inner.proto == IPProtocol.udp || inner.proto == IPProtocol.udplite {
            e.sport = inner.sport
            e.dport = inner.dport
        }
        return e
    }
}

/// A bounds-checked, big-endian view of raw bytes.
struct PacketBytes {
    let base: UnsafeRawBufferPointer
    let start: Int

    init(_ base: UnsafeRawBufferPointer) {
        self.base = base
        start = 0
    }

    private init(_ base: UnsafeRawBufferPointer, start: Int) {
        self.base = base
        self.start = start
    }

    var count: Int { base.count - start }

    /// The bytes from `offset` on; nil when `offset` is past the end.
    func dropping(_ offset: Int) -> PacketBytes? {
        guard offset >= 0, offset <= count else { return nil }
        return PacketBytes(base, start: start + offset)
    }

    func u8(_ i: Int) -> UInt8? {
        guard i >= 0, i < count else { return nil }
        return base[start + i]
    }

    func u16(_ i: Int) -> UInt16? {
        guard i >= 0, i + 2 <= count else { return nil }
        return UInt16(base[start + i]) << 8 | UInt16(base[start + i + 1])
    }

    func u32(_ i: Int) -> UInt32? {
        guard let hi = u16(i), let lo = u16(i + 2) else { return nil }
        return UInt32(hi) << 16 | UInt32(lo)
    }

    func u64(_ i: Int) -> UInt64? {
        guard let hi = u32(i), let lo = u32(i + 4) else { return nil }
        return UInt64(hi) << 32 | UInt64(lo)
    }

    func v6(_ i: Int) -> IPAddress? {
        guard let hi = u64(i), let lo = u64(i + 8) else { return nil }
        return IPAddress(v6: hi, lo)
    }

    /// Six bytes as `aa:bb:cc:dd:ee:ff`, lower case and zero-padded like the kernel's `%pM`.
    func mac(_ i: Int) -> String? {
        guard i >= 0, i + 6 <= count else { return nil }
        // Formatted into 17 bytes and decoded once: appending Characters was a seventh of a live session.
        return String(unsafeUninitializedCapacity: 17) { out in
            func hex(_ v: UInt8) -> UInt8 { v < 10 ? 48 + v : 87 + v }
            for k in 0..<6 {
                let b = base[start + i + k]
                if k > 0 { out[3 * k - 1] = UInt8(ascii: ":") }
                out[3 * k] = hex(b >> 4)
                out[3 * k + 1] = hex(b & 0xF)
            }
            return 17
        }
    }
}
