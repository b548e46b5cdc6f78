import PathTraceCore
import TestSupport
import Testing

@testable import PathTraceRender

/// The pcapng capture of walks: the rebuilt packet says what the log said, its checksums add up, the
/// kernel's bytes pass through (with an offloaded checksum completed), and the file's blocks are framed
/// as the pcapng format wants.
@Suite struct PcapTests {
    static func seedWalk() throws -> PacketWalk {
        let result = try ReplayHarness.run(
            ["seed/001-libvirt-nat.dmesg"],
            rulesets: [(table: "filter", file: "seed/001-filter.nvL"), (table: "nat", file: "seed/001-nat.nvL")])
        return try #require(result.walks.first)
    }

    /// The one's-complement sum over `bytes` (plus `pseudo`), folded: 0xFFFF when the checksum inside is right.
    static func folded(_ bytes: ArraySlice<UInt8>, pseudo: [UInt8] = []) -> UInt16 {
        var sum = InternetChecksum()
        sum.add(pseudo[...])
        sum.add(bytes)
        return sum.folded
    }

    static func tcpPseudoHeader(_ p: [UInt8]) -> [UInt8] {
        let length = p.count - 20
        return Array(p[12..<20]) + [0, 6, UInt8(length >> 8), UInt8(length & 0xFF)]
    }

    @Test func theRebuiltSeedSynDecodesToTheLoggedHeader() throws {
        let walk = try Self.seedWalk()
        let (packet, fromKernel) = try #require(WalkCapture.packet(walk))
        #expect(!fromKernel)
        let logged = try #require(walk.firstHeader)
        let decoded = PacketDecoder.decode(packet.bytes)
        #expect(decoded.src == logged.src)
        #expect(decoded.dst == logged.dst)
        #expect(decoded.sport == 42954)
        #expect(decoded.dport == 3128)
        #expect(decoded.tcpSeq == 3_127_975_600)
        #expect(decoded.tcpFlags == [.syn])
        #expect(decoded.ttl == 64)
        #expect(decoded.ipID == 14247)
        #expect(decoded.ipFlags == [.df])
        #expect(decoded.window == 29200)
        #expect(decoded.length == 60)
        // LEN=60: 20 bytes of IP, 20 of TCP and the 20 bytes of the logged `OPT (020405B4…)`.
        #expect(packet.bytes.count == 60)
        #expect(packet.originalLength == 60)
        #expect(Array(packet.bytes[40..<44]) == [0x02, 0x04, 0x05, 0xB4])
        #expect(packet.bytes[32] >> 4 == 10)
        #expect(Self.folded(packet.bytes[0..<20]) == 0xFFFF)
        #expect(Self.folded(packet.bytes[20...], pseudo: Self.tcpPseudoHeader(packet.bytes)) == 0xFFFF)
    }

    @Test func aRebuiltPacketIsCutAfterItsHeadersWithItsLoggedLength() throws {
        var h = PacketHeader()
        h.src = IPAddress("fd00:1::10")
        h.dst = IPAddress("fd00:2::20")
        h.proto = IPProtocol.udp
        h.sport = 5353
        h.dport = 5353
        h.length = 140
        h.ttl = 1
        let packet = try #require(PacketBuilder.rebuild(h))
        #expect(packet.bytes.count == 48)
        #expect(packet.originalLength == 140)
        let decoded = PacketDecoder.decode(packet.bytes)
        #expect(decoded.src == h.src)
        #expect(decoded.length == 140)
        #expect(decoded.ttl == 1)
        // The UDP length is the logged one: the payload was there, only not logged.
        #expect(Array(packet.bytes[44..<46]) == [0, 100])
    }

    @Test func anIcmpErrorQuotesTheEmbeddedPacket() throws {
        let result = try ReplayHarness.run(["captures/drop.dmesg"])
        let walk = try #require(
            result.walks.first { $0.firstHeader?.icmpType == 3 && $0.firstHeader?.embedded?.proto == IPProtocol.tcp })
        let (packet, _) = try #require(WalkCapture.packet(walk))
        let quoted = PacketDecoder.decode(Array(packet.bytes[28...]))
        let embedded = try #require(walk.firstHeader?.embedded)
        #expect(quoted.src == embedded.src)
        #expect(quoted.dst == embedded.dst)
        #expect(quoted.sport == embedded.sport)
        #expect(quoted.dport == embedded.dport)
        #expect(Self.folded(packet.bytes[28..<48]) == 0xFFFF)
    }

    @Test func theKernelsBytesPassThroughWithAnOffloadedChecksumCompleted() throws {
        let rebuilt = try #require(WalkCapture.packet(try Self.seedWalk())).0.bytes
        // As nfnetlink_log hands over a CHECKSUM_PARTIAL packet: the TCP field holds only the pseudo-header's sum.
        var partial = rebuilt
        var pseudo = InternetChecksum()
        pseudo.add(Self.tcpPseudoHeader(rebuilt)[...])
        partial[36] = UInt8(pseudo.folded >> 8)
        partial[37] = UInt8(pseudo.folded & 0xFF)
        #expect(partial != rebuilt)
        // Trailing bytes past the IP length are not the packet's.
        let packet = try #require(PacketBuilder.kernel(partial + [0, 0, 0, 0]))
        #expect(packet.bytes == rebuilt)
        #expect(packet.originalLength == 60)
        // Cut short, nothing can be completed and nothing is changed.
        let cut = try #require(PacketBuilder.kernel(Array(partial.prefix(40))))
        #expect(cut.bytes == Array(partial.prefix(40)))
        #expect(cut.originalLength == 60)
        #expect(PacketBuilder.kernel([0x00, 0x01]) == nil)
    }

    @Test func theCommentIsTheWalkInOneLine() throws {
        #expect(
            WalkCapture.comment(try Self.seedWalk())
                == "forward accept: raw:PREROUTING → mangle:PREROUTING → nat:PREROUTING → mangle:FORWARD → "
                + "filter:FORWARD → mangle:POSTROUTING → nat:POSTROUTING MASQUERADE 192.168.122.17:42954 → ?")
    }

    /// Reads the blocks back: each framed by equal lengths, a multiple of 4; one section header, an
    /// interface block before the first packet that uses it.
    @Test func theFileIsFramedInPcapngBlocks() throws {
        let result = try ReplayHarness.run(["captures/interleaved.dmesg"])
        var file: [UInt8] = []
        let capture = WalkCapture(namespace: "test") { file.append(contentsOf: $0) }
        for walk in result.walks { capture.write(walk) }
        #expect(capture.written == result.walks.count)
        func u32(_ i: Int) -> Int {
            Int(file[i]) | Int(file[i + 1]) << 8 | Int(file[i + 2]) << 16 | Int(file[i + 3]) << 24
        }
        var at = 0
        var types: [Int] = []
        var interfaces = 0
        while at < file.count {
            let type = u32(at)
            let length = u32(at + 4)
            #expect(length % 4 == 0 && length >= 12)
            #expect(u32(at + length - 4) == length)
            if type == 6 { #expect(u32(at + 8) < interfaces) }
            if type == 1 { interfaces += 1 }
            types.append(type)
            at += length
        }
        #expect(at == file.count)
        #expect(types.first == 0x0A0D_0D0A)
        #expect(types.filter { $0 == 6 }.count == result.walks.count)
        let names = Set(result.walks.compactMap { WalkCapture.interface($0).0 })
        #expect(interfaces == names.count)
    }
}
