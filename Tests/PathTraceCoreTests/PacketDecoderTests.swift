import PathTraceCore
import TestSupport
import Testing

/// Builds packets byte by byte, the way they sit on the wire.
enum PacketBytes {
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xFF)] }
    static func be32(_ v: UInt32) -> [UInt8] { be16(UInt16(v >> 16)) + be16(UInt16(v & 0xFFFF)) }

    static func v4(_ text: String) -> [UInt8] {
        text.split(separator: ".").map { UInt8($0) ?? 0 }
    }

    static func v6(_ text: String) -> [UInt8] {
        guard let a = IPAddress(text) else { return [UInt8](repeating: 0, count: 16) }
        var out: [UInt8] = []
        for k in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: a.high >> (UInt64(k) * 8))) }
        for k in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: a.low >> (UInt64(k) * 8))) }
        return out
    }

    static func hex(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var it = text.makeIterator()
        while let a = it.next(), let b = it.next() { out.append(UInt8(String([a, b]), radix: 16) ?? 0) }
        return out
    }

    /// An IPv4 header (checksum left zero: nothing here checks it).
    static func ipv4(
        src: String, dst: String, proto: UInt8, payload: Int, id: UInt16, ttl: UInt8, tos: UInt8 = 0,
        flags: UInt16 = 0x4000, options: [UInt8] = []
    ) -> [UInt8] {
        let ihl = (20 + options.count) / 4
        var h: [UInt8] = [0x40 | UInt8(ihl), tos]
        h += be16(UInt16(ihl * 4 + payload)) + be16(id) + be16(flags) + [ttl, proto, 0, 0]
        h += v4(src) + v4(dst) + options
        return h
    }

    static func ipv6(src: String, dst: String, next: UInt8, payload: Int, hop: UInt8, tc: UInt8 = 0) -> [UInt8] {
        var h: [UInt8] = [0x60 | tc >> 4, tc << 4, 0x12, 0x34]
        h += be16(UInt16(payload)) + [next, hop] + v6(src) + v6(dst)
        return h
    }

    static func tcp(
        sport: UInt16, dport: UInt16, seq: UInt32, ack: UInt32, flags: UInt8, window: UInt16, options: [UInt8] = []
    )
        -> [UInt8]
    {
        let doff = UInt8((20 + options.count) / 4)
        return be16(sport) + be16(dport) + be32(seq) + be32(ack) + [doff << 4, flags] + be16(window) + [0, 0, 0, 0]
            + options
    }

    static func udp(sport: UInt16, dport: UInt16, payload: [UInt8]) -> [UInt8] {
        be16(sport) + be16(dport) + be16(UInt16(8 + payload.count)) + [0, 0] + payload
    }

    /// The seed's SYN: `SRC=192.168.122.17 DST=10.44.32.217 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=14247 DF
    /// PROTO=TCP SPT=42954 DPT=3128 SEQ=3127975600 ACK=0 WINDOW=29200 RES=0x00 SYN URGP=0 OPT (020405B4…)`.
    static var seedSYN: [UInt8] {
        let options = hex("020405B40402080A10B629170000000001030307")
        let t = tcp(sport: 42954, dport: 3128, seq: 3_127_975_600, ack: 0, flags: 0x02, window: 29200, options: options)
        return ipv4(src: "192.168.122.17", dst: "10.44.32.217", proto: 6, payload: t.count, id: 14247, ttl: 64) + t
    }
}

@Suite struct PacketDecoderTests {
    /// The header the kernel-log parser reads from the seed's first line.
    static func seedParsed() throws -> (PacketHeader, String) {
        let text = try Fixtures.text("seed/001-libvirt-nat.dmesg")
        let line = try #require(text.split(separator: "\n").first.map(String.init))
        var parser = TraceLineParser(file: "seed")
        var events: [TraceEvent] = []
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBufferPointer { b in
            _ = parser.parse(line: UnsafeBufferPointer(b), lineNumber: 1, emit: { events.append($0) }, onSkip: { _ in })
        }
        let header = try #require(events.first?.header)
        return (header, line)
    }

    @Test func seedSYNDecodesToTheFieldsTheKernelLogShows() throws {
        let (parsed, _) = try Self.seedParsed()
        let h = PacketDecoder.decode(PacketBytes.seedSYN)
        #expect(h.src == parsed.src)
        #expect(h.dst == parsed.dst)
        #expect(h.proto == parsed.proto)
        #expect(h.sport == parsed.sport && h.sport == 42954)
        #expect(h.dport == parsed.dport && h.dport == 3128)
        #expect(h.ipID == parsed.ipID)
        #expect(h.ttl == parsed.ttl)
        #expect(h.length == parsed.length)
        #expect(h.tos == parsed.tos)
        #expect(h.ipFlags == parsed.ipFlags)
        #expect(h.fragment == parsed.fragment)
        #expect(h.tcpSeq == parsed.tcpSeq)
        #expect(h.tcpAck == parsed.tcpAck)
        #expect(h.tcpFlags == parsed.tcpFlags && h.tcpFlags == .syn)
        #expect(h.window == parsed.window)
        #expect(h.incompleteBytes == nil)
        #expect(h.embedded == nil)
    }

    @Test func ethernetHeaderMatchesTheMACField() throws {
        let (parsed, _) = try Self.seedParsed()
        // MAC=52:54:00:da:ec:4f:52:54:00:a4:5e:56:08:00
        let mac = PacketBytes.hex("525400daec4f525400a45e560800")
        var h = PacketHeader()
        mac.withUnsafeBytes { PacketDecoder.decodeEthernet($0, into: &h) }
        #expect(h.macDst == parsed.macDst && h.macDst == "52:54:00:da:ec:4f")
        #expect(h.macSrc == parsed.macSrc && h.macSrc == "52:54:00:a4:5e:56")
        #expect(h.macProto == parsed.macProto && h.macProto == 0x0800)
    }

    @Test func nftSplitHeadersDecodeLikeOnePacket() {
        let packet = PacketBytes.seedSYN
        // nft trace: the network header (options included up to 40 bytes), then ≤ 20 transport bytes.
        let network = Array(packet[0..<20])
        let transport = Array(packet[20..<40])
        let split = PacketDecoder.decode(network: network, transport: transport)
        var whole = PacketDecoder.decode(packet)
        whole.incompleteBytes = nil
        #expect(split == whole)
    }

    @Test func ipv4OptionsAreSkippedAndUDPRead() {
        let u = PacketBytes.udp(sport: 5353, dport: 53, payload: [1, 2, 3, 4])
        // Record-route option (7), length 7, pointer 4, one empty slot, then end-of-list.
        let options: [UInt8] = [7, 7, 4, 0, 0, 0, 0, 0]
        let p =
            PacketBytes.ipv4(
                src: "10.0.0.1", dst: "10.0.0.2", proto: 17, payload: u.count, id: 7, ttl: 1, tos: 0x10, flags: 0,
                options: options) + u
        let h = PacketDecoder.decode(p)
        #expect(h.proto == 17)
        #expect(h.sport == 5353 && h.dport == 53)
        #expect(h.tos == 0x10)
        #expect(h.ttl == 1)
        #expect(h.ipFlags == [])
        #expect(h.length == UInt32(p.count))
    }

    @Test func udpliteAndUnknownProtocols() {
        let u = PacketBytes.udp(sport: 1000, dport: 2000, payload: [])
        let lite = PacketDecoder.decode(
            PacketBytes.ipv4(src: "1.1.1.1", dst: "2.2.2.2", proto: 136, payload: 8, id: 1, ttl: 9) + u)
        #expect(lite.proto == IPProtocol.udplite && lite.sport == 1000 && lite.dport == 2000)
        let gre = PacketDecoder.decode(
            PacketBytes.ipv4(src: "1.1.1.1", dst: "2.2.2.2", proto: 47, payload: 8, id: 1, ttl: 9) + u)
        #expect(gre.proto == 47 && gre.sport == nil)
    }

    @Test func fragmentsHaveNoPorts() {
        let u = PacketBytes.udp(sport: 1, dport: 2, payload: [])
        let later = PacketDecoder.decode(
            PacketBytes.ipv4(src: "1.1.1.1", dst: "2.2.2.2", proto: 17, payload: 8, id: 99, ttl: 9, flags: 0x2000 | 185)
                + u)
        #expect(later.fragment == 185)
        #expect(later.ipFlags == [.mf])
        #expect(later.sport == nil)
        let first = PacketDecoder.decode(
            PacketBytes.ipv4(src: "1.1.1.1", dst: "2.2.2.2", proto: 17, payload: 8, id: 99, ttl: 9, flags: 0xA000) + u)
        #expect(first.fragment == nil && first.ipFlags == [.ce, .mf] && first.sport == 1)
    }

    @Test func icmpEchoAndErrorWithEmbeddedHeader() {
        let echo: [UInt8] = [8, 0, 0, 0] + PacketBytes.be16(0x1234) + PacketBytes.be16(7) + [0xAA, 0xBB]
        let e = PacketDecoder.decode(
            PacketBytes.ipv4(src: "10.1.1.1", dst: "10.2.2.2", proto: 1, payload: echo.count, id: 5, ttl: 64) + echo)
        #expect(e.icmpType == 8 && e.icmpCode == 0 && e.icmpID == 0x1234 && e.icmpSeq == 7)
        #expect(e.sourcePort == 0x1234)

        // Port unreachable quoting a UDP datagram (its IP header and the first 8 bytes).
        let quoted =
            PacketBytes.ipv4(src: "10.2.2.2", dst: "10.1.1.1", proto: 17, payload: 20, id: 4242, ttl: 63)
            + PacketBytes.udp(sport: 40000, dport: 33434, payload: [])
        let err: [UInt8] = [3, 3, 0, 0, 0, 0, 0, 0] + quoted
        let h = PacketDecoder.decode(
            PacketBytes.ipv4(src: "10.1.1.1", dst: "10.2.2.2", proto: 1, payload: err.count, id: 6, ttl: 64) + err)
        #expect(h.icmpType == 3 && h.icmpCode == 3)
        #expect(h.icmpID == nil)
        let inner = h.embedded
        #expect(inner?.src == IPAddress("10.2.2.2"))
        #expect(inner?.dst == IPAddress("10.1.1.1"))
        #expect(inner?.proto == 17)
        #expect(inner?.ipID == 4242)
        #expect(inner?.length == 40)
        #expect(inner?.sport == 40000 && inner?.dport == 33434)
    }

    @Test func ipv6TCPWithTrafficClass() {
        let t = PacketBytes.tcp(sport: 50000, dport: 443, seq: 1, ack: 2, flags: 0x12, window: 100)
        let p = PacketBytes.ipv6(src: "fd00::1", dst: "fd00:1::2", next: 6, payload: t.count, hop: 63, tc: 0x28) + t
        let h = PacketDecoder.decode(p)
        #expect(h.src == IPAddress("fd00::1") && h.dst == IPAddress("fd00:1::2"))
        #expect(h.isV6)
        #expect(h.length == UInt32(t.count + 40))
        #expect(h.ttl == 63 && h.tos == 0x28)
        #expect(h.proto == 6 && h.sport == 50000 && h.dport == 443)
        #expect(h.tcpFlags == [.syn, .ack] && h.tcpSeq == 1 && h.tcpAck == 2 && h.window == 100)
    }

    @Test func ipv6ExtensionHeadersAndFragments() {
        let u = PacketBytes.udp(sport: 7, dport: 8, payload: [0, 0, 0, 0])
        let hopByHop: [UInt8] = [44, 0, 1, 4, 0, 0, 0, 0]  // next: fragment; PadN
        let firstFragment: [UInt8] = [17, 0] + PacketBytes.be16(0x0001) + PacketBytes.be32(0x2D40_55E5)
        let p =
            PacketBytes.ipv6(src: "::1", dst: "::2", next: 0, payload: 16 + u.count, hop: 64) + hopByHop + firstFragment
            + u
        let h = PacketDecoder.decode(p)
        #expect(h.proto == 17 && h.sport == 7 && h.dport == 8)
        #expect(h.ipID == 0x2D40_55E5)
        #expect(h.ipFlags == [.mf] && h.fragment == nil)

        let laterFragment: [UInt8] = [17, 0] + PacketBytes.be16(1232) + PacketBytes.be32(9)
        let q = PacketBytes.ipv6(src: "::1", dst: "::2", next: 44, payload: 8 + u.count, hop: 64) + laterFragment + u
        let later = PacketDecoder.decode(q)
        #expect(later.fragment == 1232 && later.ipFlags == [] && later.sport == nil && later.proto == 17)

        // nft sends only the fixed 40 bytes: behind an extension header the protocol is unknown.
        let cut = PacketDecoder.decode(network: Array(p[0..<40]), transport: u)
        #expect(cut.proto == nil && cut.sport == nil && cut.src == IPAddress("::1"))
    }

    @Test func icmpv6EchoAndUnreachable() {
        let echo: [UInt8] = [128, 0, 0, 0] + PacketBytes.be16(99) + PacketBytes.be16(3)
        let e = PacketDecoder.decode(
            PacketBytes.ipv6(src: "fd00::1", dst: "fd00::2", next: 58, payload: echo.count, hop: 64) + echo)
        #expect(e.proto == 58 && e.icmpType == 128 && e.icmpID == 99 && e.icmpSeq == 3)

        let quoted =
            PacketBytes.ipv6(src: "fd00::2", dst: "fd00::9", next: 6, payload: 20, hop: 63)
            + PacketBytes.tcp(sport: 1234, dport: 80, seq: 0, ack: 0, flags: 2, window: 0)
        let err: [UInt8] = [1, 4, 0, 0, 0, 0, 0, 0] + quoted
        let h = PacketDecoder.decode(
            PacketBytes.ipv6(src: "fd00::1", dst: "fd00::2", next: 58, payload: err.count, hop: 64) + err)
        #expect(h.icmpType == 1 && h.icmpCode == 4)
        #expect(h.embedded?.src == IPAddress("fd00::2") && h.embedded?.dst == IPAddress("fd00::9"))
        #expect(h.embedded?.proto == 6 && h.embedded?.sport == 1234 && h.embedded?.dport == 80)
        #expect(h.embedded?.length == 60 && h.embedded?.ipID == nil)
    }

    @Test func everyTruncationGivesAPartialHeader() {
        let packet = PacketBytes.seedSYN
        for cut in 0...packet.count {
            let h = PacketDecoder.decode(Array(packet[0..<cut]))
            if cut == 0 { #expect(h == PacketHeader()) }
            if cut >= 20 {
                #expect(h.src == IPAddress("192.168.122.17") && h.dst == IPAddress("10.44.32.217"))
                #expect(h.ttl == 64 && h.proto == 6)
            }
            if cut >= 24 { #expect(h.dport == 3128) }
            if cut > 20 && cut < 40 { #expect(h.incompleteBytes == cut - 20) }
            if cut >= 40 { #expect(h.incompleteBytes == nil && h.tcpFlags == .syn) }
        }
    }

    @Test func randomBytesNeverCrash() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
        let seeds = [PacketBytes.seedSYN]
        var decoded = 0
        for round in 0..<50_000 {
            var bytes: [UInt8]
            if round % 2 == 0, let base = seeds.first {
                bytes = base
                for _ in 0..<(1 + Int(next() % 6)) {
                    bytes[Int(next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: next())
                }
                bytes = Array(bytes[0..<Int(next() % UInt64(bytes.count + 1))])
            } else {
                let n = Int(next() % 120)
                bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: next()) }
                if !bytes.isEmpty { bytes[0] = (next() % 2 == 0 ? 0x40 : 0x60) | (bytes[0] & 0x0F) }
            }
            let h = PacketDecoder.decode(bytes)
            let split = bytes.count / 2
            let s = PacketDecoder.decode(network: Array(bytes[0..<split]), transport: Array(bytes[split...]))
            if h.src != nil || s.src != nil { decoded += 1 }
        }
        #expect(decoded > 1000)
    }
}

@Suite struct LogPrefixTests {
    @Test func tracePrefixes() {
        #expect(
            LogPrefix("TRACE: raw:PREROUTING:policy:2 ")
                == LogPrefix(form: .trace, table: "raw", chain: "PREROUTING", kind: .policy, rule: 2))
        #expect(LogPrefix("TRACE: filter:DOCKER-USER:return:1 ")?.kind == .return)
        #expect(LogPrefix("TRACE: filter:a:b:rule:7 ")?.chain == "a:b")
        #expect(LogPrefix("TRACE: raw:PREROUTING:policy ") == nil)
        #expect(LogPrefix("TRACE: :PREROUTING:policy:1") == nil)
        #expect(LogPrefix("my prefix") == nil)
    }

    @Test func pathtracePrefixes() {
        #expect(
            LogPrefix(LogPrefix.pathtrace(table: "filter", chain: "FORWARD"))
                == LogPrefix(form: .pathtrace, table: "filter", chain: "FORWARD", kind: .rule, rule: nil))
        #expect(LogPrefix("pt:nat:POSTROUTING:policy:3")?.rule == 3)
        #expect(LogPrefix("pt:filter:") == nil)
        #expect(LogPrefix("pt:") == nil)
    }
}
