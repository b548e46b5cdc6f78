import CMnl
import Glibc
import PathTraceCore
import Testing

@testable import PathTraceLinux

/// Decoding without a socket: hand-built NFT_MSG_TRACE messages, nflog records, errno mapping.
@Suite struct CollectorDecodingTests {
    /// Builds one NFT_MSG_TRACE message the way nf_tables_trace.c lays it out.
    final class TraceMessage {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 4096, alignment: 8)
        let nlh: UnsafeMutablePointer<nlmsghdr>

        init(family: UInt8 = 1) {
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
            nlh = mnl_nlmsg_put_header(buffer)
            nlh.pointee.nlmsg_type = pt_nft_trace_msg_type()
            let gen = mnl_nlmsg_put_extra_header(nlh, MemoryLayout<nfgenmsg>.size)
            gen?.assumingMemoryBound(to: nfgenmsg.self).pointee.nfgen_family = family
        }

        deinit { buffer.deallocate() }

        func string(_ type: UInt32, _ value: String) { mnl_attr_put_strz(nlh, UInt16(type), value) }
        func be32(_ type: UInt32, _ value: UInt32) { mnl_attr_put_u32(nlh, UInt16(type), value.bigEndian) }
        func be16(_ type: UInt32, _ value: UInt16) { mnl_attr_put_u16(nlh, UInt16(type), value.bigEndian) }
        func be64(_ type: UInt32, _ value: UInt64) { mnl_attr_put_u64(nlh, UInt16(type), value.bigEndian) }
        func bytes(_ type: UInt32, _ value: [UInt8]) {
            value.withUnsafeBytes { mnl_attr_put(nlh, UInt16(type), $0.count, $0.baseAddress) }
        }
        func verdict(_ code: Int32, chain: String? = nil) {
            let nest = mnl_attr_nest_start(nlh, UInt16(NFTA_TRACE_VERDICT.rawValue))
            mnl_attr_put_u32(nlh, UInt16(NFTA_VERDICT_CODE.rawValue), UInt32(bitPattern: code).bigEndian)
            if let chain { mnl_attr_put_strz(nlh, UInt16(NFTA_VERDICT_CHAIN.rawValue), chain) }
            mnl_attr_nest_end(nlh, nest)
        }
        var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: buffer, count: Int(nlh.pointee.nlmsg_len)) }
    }

    static func head(_ m: TraceMessage, chain: String, type: nft_trace_types, id: [UInt8]) {
        m.be32(NFTA_TRACE_NFPROTO.rawValue, 2)
        m.be32(NFTA_TRACE_TYPE.rawValue, type.rawValue)
        // The kernel puts the id in host order; the bytes as sent are what nft prints (%08x after ntohl).
        m.bytes(NFTA_TRACE_ID.rawValue, id)
        m.string(NFTA_TRACE_CHAIN.rawValue, chain)
        m.string(NFTA_TRACE_TABLE.rawValue, "pttest")
    }

    static let syn: [UInt8] = {
        var p: [UInt8] = [0x45, 0, 0, 60, 0x37, 0xA7, 0x40, 0, 64, 6, 0, 0, 192, 168, 122, 17, 10, 44, 32, 217]
        p += [0xA7, 0xCA, 0x0C, 0x38, 0xBA, 0x71, 0x1E, 0xB0, 0, 0, 0, 0, 0x50, 0x02, 0x72, 0x10, 0, 0, 0, 0]
        return p
    }()

    @Test func firstEventCarriesThePacketAndLaterOnesReuseIt() throws {
        let decoder = NftTraceDecoder(keepPacketBytes: true)
        decoder.interfaceName = { $0 == 3 ? "virbr0" : $0 == 4 ? "bond0" : nil }
        var events: [TraceEvent] = []

        let rule = TraceMessage()
        Self.head(rule, chain: "pre", type: NFT_TRACETYPE_RULE, id: [0xEE, 0x0F, 0x20, 0xC3])
        rule.be64(NFTA_TRACE_RULE_HANDLE.rawValue, 4)
        rule.verdict(-3, chain: "checks")
        rule.be32(NFTA_TRACE_MARK.rawValue, 0x42)
        rule.be32(NFTA_TRACE_IIF.rawValue, 3)
        rule.be16(NFTA_TRACE_IIFTYPE.rawValue, 1)
        rule.bytes(NFTA_TRACE_NETWORK_HEADER.rawValue, Array(Self.syn[0..<20]))
        rule.bytes(NFTA_TRACE_TRANSPORT_HEADER.rawValue, Array(Self.syn[20...]))
        rule.bytes(
            NFTA_TRACE_LL_HEADER.rawValue, [0x52, 0x54, 0, 0xDA, 0xEC, 0x4F, 0x52, 0x54, 0, 0xA4, 0x5E, 0x56, 8, 0])
        let s1 = decoder.decode(rule.bytes, time: 1.5) { events.append($0) }
        #expect(s1.messages == 1 && s1.malformed == 0)

        let policy = TraceMessage()
        Self.head(policy, chain: "pre", type: NFT_TRACETYPE_POLICY, id: [0xEE, 0x0F, 0x20, 0xC3])
        policy.be32(NFTA_TRACE_POLICY.rawValue, 1)
        _ = decoder.decode(policy.bytes, time: 1.6) { events.append($0) }

        let ret = TraceMessage()
        Self.head(ret, chain: "checks", type: NFT_TRACETYPE_RETURN, id: [0xEE, 0x0F, 0x20, 0xC3])
        ret.verdict(-1)
        _ = decoder.decode(ret.bytes, time: nil) { events.append($0) }

        // Linux 6.18: the end of a chain comes as a RULE event without a handle.
        let end = TraceMessage()
        Self.head(end, chain: "pre", type: NFT_TRACETYPE_RULE, id: [0xEE, 0x0F, 0x20, 0xC3])
        end.verdict(-1)
        _ = decoder.decode(end.bytes, time: nil) { events.append($0) }

        try #require(events.count == 4)
        #expect(events[3].kind == .return && events[3].rule == nil && events[3].verdict == .continue)
        let first = events[0]
        #expect(first.traceID == 0xEE0F_20C3)
        #expect(first.table == "pttest" && first.chain == "pre" && first.kind == .rule)
        #expect(first.rule == .handle(4))
        #expect(first.verdict == .jump("checks"))
        #expect(first.family == .ipv4 && first.tableFamily == "inet" && first.origin == .netlink)
        #expect(first.source == SourcePosition(file: "netlink", line: 1))
        #expect(first.time == 1.5 && first.timeBasis == .received)
        #expect(first.inIface == "virbr0" && first.outIface == nil)
        let h = try #require(first.header)
        #expect(h.src == IPAddress("192.168.122.17") && h.dst == IPAddress("10.44.32.217"))
        #expect(h.sport == 42954 && h.dport == 3128 && h.ttl == 64 && h.ipID == 14247 && h.tcpFlags == .syn)
        #expect(h.tcpSeq == 3_127_975_600 && h.window == 29200 && h.ipFlags == .df)
        #expect(h.mark == 0x42)
        #expect(h.macSrc == "52:54:00:a4:5e:56" && h.macDst == "52:54:00:da:ec:4f" && h.macProto == 0x0800)

        #expect(events[1].kind == .policy && events[1].verdict == .accept && events[1].rule == nil)
        #expect(events[1].inIface == "virbr0")
        var carried = h
        carried.mark = nil
        #expect(events[1].header == carried)
        #expect(events[1].source.line == 2)
        #expect(events[2].kind == .return && events[2].verdict == .continue && events[2].hook == nil)
        // The headers as the kernel sent them, for --pcap: the transport header follows the 20-byte IP header.
        #expect(first.packetBytes == Self.syn)
        #expect(events[1].packetBytes == Self.syn)
        // Without --pcap the bytes are let go once decoded.
        var plain: [TraceEvent] = []
        _ = NftTraceDecoder().decode(rule.bytes, time: 1.5) { plain.append($0) }
        #expect(plain.first?.header == first.header && plain.first?.packetBytes == nil)
    }

    /// nft sends at most 40 bytes of network header: past IPv6 extension headers the transport header does
    /// not follow them, and is not glued on.
    @Test func keptBytesAreTheNetworkHeaderAloneWhenBytesBetweenAreMissing() {
        var v6 = [UInt8](repeating: 0, count: 40)
        v6[0] = 0x60
        v6[6] = 0
        let udp: [UInt8] = [0x14, 0xE9, 0x14, 0xE9, 0, 8, 0, 0]
        let hopByHop = v6.withUnsafeBytes { n in
            udp.withUnsafeBytes { NftTraceDecoder.packetBytes(network: n, transport: $0) }
        }
        #expect(hopByHop == v6)
        v6[6] = 17
        let plain = v6.withUnsafeBytes { n in
            udp.withUnsafeBytes { NftTraceDecoder.packetBytes(network: n, transport: $0) }
        }
        #expect(plain == v6 + udp)
    }

    @Test func incompleteMessagesAreCountedNotEmitted() {
        let decoder = NftTraceDecoder()
        let m = TraceMessage()
        m.be32(NFTA_TRACE_TYPE.rawValue, 3)
        m.string(NFTA_TRACE_TABLE.rawValue, "t")
        var events: [TraceEvent] = []
        let s = decoder.decode(m.bytes, time: nil) { events.append($0) }
        #expect(events.isEmpty && s.messages == 1 && s.malformed == 1)
        // Garbage and truncated buffers decode to nothing.
        let junk: [UInt8] = [0xFF, 0xFF, 0, 0, 1, 2, 3]
        let j = junk.withUnsafeBytes { decoder.decode($0, time: nil) { events.append($0) } }
        #expect(events.isEmpty && j.messages == 0)
        let cut = UnsafeRawBufferPointer(rebasing: m.bytes[0..<(m.bytes.count - 3)])
        _ = decoder.decode(cut, time: nil) { events.append($0) }
        #expect(events.isEmpty)
    }

    @Test func verdictCodes() {
        #expect(NftTraceDecoder.verdict(code: 0, chain: "") == .drop)
        #expect(NftTraceDecoder.verdict(code: 1, chain: "") == .accept)
        #expect(NftTraceDecoder.verdict(code: 2, chain: "") == .stolen)
        #expect(NftTraceDecoder.verdict(code: 3 | 5 << 16, chain: "") == .queue)
        #expect(NftTraceDecoder.verdict(code: -2, chain: "") == .break)
        #expect(NftTraceDecoder.verdict(code: -4, chain: "x") == .goto("x"))
        #expect(NftTraceDecoder.verdict(code: -5, chain: "") == .return)
        #expect(NftTraceDecoder.family(tableFamily: 1, nfproto: 10, packet: nil) == .ipv6)
        #expect(NftTraceDecoder.family(tableFamily: 7, nfproto: 2, packet: .ipv4) == .bridge)
        #expect(NftTraceDecoder.family(tableFamily: 2, nfproto: nil, packet: nil) == .ipv4)
    }

    @Test func nflogRecordsBecomeSteps() {
        var r = NflogRecord(family: UInt8(AF_INET))
        r.hook = 0
        r.prefix = "TRACE: raw:PREROUTING:policy:2 "
        r.inIface = "r0"
        r.timestamp = 100.25
        r.payload = Self.syn
        r.mark = 0x8000
        r.uid = 0
        r.hardwareType = 1
        r.hardwareHeader = [0x52, 0x54, 0, 0xDA, 0xEC, 0x4F, 0x52, 0x54, 0, 0xA4, 0x5E, 0x56, 8, 0]
        let e = r.event(line: 7, receivedAt: 200)
        #expect(e.table == "raw" && e.chain == "PREROUTING" && e.kind == .policy && e.rule == .number(2))
        #expect(e.hook == .prerouting && e.verdict == nil && e.origin == .netlink)
        #expect(e.time == 100.25 && e.timeBasis == .kernel && e.source.line == 7)
        #expect(e.header?.dport == 3128 && e.header?.mark == 0x8000 && e.header?.uid == 0)
        #expect(e.header?.macSrc == "52:54:00:a4:5e:56")
        #expect(e.packetBytes == nil)
        #expect(r.event(line: 7, receivedAt: 200, keepPacketBytes: true).packetBytes == Self.syn)

        r.prefix = "TRACE: filter:DOCKER:rule:3 "
        r.timestamp = nil
        let user = r.event(line: 8, receivedAt: 200)
        #expect(user.hook == nil && user.chain == "DOCKER" && user.time == 200 && user.timeBasis == .received)

        r.prefix = "pt:nat:POSTROUTING"
        #expect(r.event(line: 9, receivedAt: 0).verdict == .continue)
        r.prefix = "[UFW BLOCK] "
        let log = r.event(line: 10, receivedAt: 0)
        #expect(log.kind == .log && log.prefix == "[UFW BLOCK] " && log.hook == nil)
        r.family = UInt8(AF_INET6)
        r.prefix = nil
        r.payload = [0x60]
        let v6 = r.event(line: 11, receivedAt: 0)
        #expect(v6.family == .ipv6 && v6.kind == .log && v6.prefix == "")
    }

    @Test func errnoMapping() {
        #expect(LinuxError(operation: "bind", errno: EPERM) == .permissionDenied(operation: "bind", errno: EPERM))
        #expect(LinuxError(operation: "socket", errno: EACCES).isPermissionDenied)
        #expect(LinuxError(operation: "recv", errno: ENOBUFS) == .failed(operation: "recv", errno: ENOBUFS))
        #expect(!LinuxError(operation: "recv", errno: ENOBUFS).isPermissionDenied)
        #expect(LinuxError(operation: "bind", errno: EPERM).description.contains("CAP_NET_ADMIN"))
        #expect(LinuxError.noSuchNamespace("x").errno == ENOENT)
        var calls = 0
        let r = try? Sys.call("retry") { () -> Int32 in
            calls += 1
            if calls < 3 {
                errno = EINTR
                return -1
            }
            return 5
        }
        #expect(r == 5 && calls == 3)
        #expect(throws: LinuxError.permissionDenied(operation: "x", errno: EPERM)) {
            try Sys.call("x") { () -> Int32 in
                errno = EPERM
                return -1
            }
        }
    }
}
