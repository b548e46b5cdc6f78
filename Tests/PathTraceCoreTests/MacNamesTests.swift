import Testing

@testable import PathTraceCore

/// Live collectors name a frame's link-layer addresses through `MacNames`: the names must be what
/// decoding without it gives, for repeated addresses, for more addresses than it keeps, and for a
/// header too short to hold them.
@Suite struct MacNamesTests {
    static func frame(dst: [UInt8], src: [UInt8], type: UInt16 = 0x0800) -> [UInt8] {
        dst + src + [UInt8(type >> 8), UInt8(type & 0xFF)]
    }

    static func decoded(_ frame: [UInt8], _ macs: inout MacNames) -> PacketHeader {
        var h = PacketHeader()
        frame.withUnsafeBytes { PacketDecoder.decodeEthernet($0, into: &h, macs: &macs) }
        return h
    }

    static func plain(_ frame: [UInt8]) -> PacketHeader {
        var h = PacketHeader()
        frame.withUnsafeBytes { PacketDecoder.decodeEthernet($0, into: &h) }
        return h
    }

    @Test func namesAreThoseOfPlainDecoding() {
        var macs = MacNames()
        let hosts: [[UInt8]] = (0..<7).map { [0x52, 0x54, 0x00, 0xA4, 0x5E, UInt8($0 * 37)] }
        // Seven hosts through a memo of four, each pair twice, the first again at the end.
        var frames: [[UInt8]] = []
        for i in 0..<7 { frames += [Self.frame(dst: hosts[i], src: hosts[(i + 1) % 7])] }
        frames += frames + [Self.frame(dst: hosts[0], src: hosts[0], type: 0x86DD)]
        for f in frames {
            let h = Self.decoded(f, &macs)
            let reference = Self.plain(f)
            #expect(h.macDst == reference.macDst && h.macSrc == reference.macSrc && h.macProto == reference.macProto)
        }
        #expect(Self.decoded(frames[0], &macs).macDst == "52:54:00:a4:5e:00")
        #expect(Self.decoded(frames[0], &macs).macSrc == "52:54:00:a4:5e:25")
    }

    @Test func aShortHeaderNamesNothing() {
        var macs = MacNames()
        let h = Self.decoded([0x52, 0x54, 0x00, 0xA4, 0x5E, 0x56, 0x52, 0x54], &macs)
        #expect(h.macDst == nil && h.macSrc == nil && h.macProto == nil)
    }
}
