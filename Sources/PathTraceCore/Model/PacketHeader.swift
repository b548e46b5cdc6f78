/// The decoded headers of one packet as one trace record showed them.
///
/// Every field is optional because each source shows a different subset: a kernel LOG line has no
/// conntrack state, an nft trace dump has no UID, an xtables-monitor line has no TCP sequence.
///
/// Stored as plain values (zero when absent) and one bitmask of the fields present, names as
/// `NameSlot`s, and the fields few packets have in `rare`: 100 bytes that copy without reference
/// counting, where thirty `Optional`s (each with its tag and padding), names and an array took 192
/// (issue 10, scripts/icount.sh). Absent fields are zero, so the synthesized `==` is presence-aware.
public struct PacketHeader: Equatable, Sendable {
    @usableFromInline var srcHigh: UInt64 = 0
    @usableFromInline var srcLow: UInt64 = 0
    @usableFromInline var dstHigh: UInt64 = 0
    @usableFromInline var dstLow: UInt64 = 0
    @usableFromInline var rare = Rare<RareHeaderFields>()
    @usableFromInline var ipIDValue: UInt32 = 0
    @usableFromInline var lengthValue: UInt32 = 0
    @usableFromInline var fragmentValue: UInt32 = 0
    @usableFromInline var tcpSeqValue: UInt32 = 0
    @usableFromInline var tcpAckValue: UInt32 = 0
    @usableFromInline var markValue: UInt32 = 0
    @usableFromInline var uidValue: UInt32 = 0
    @usableFromInline var gidValue: UInt32 = 0
    @usableFromInline var present: Present = []
    @usableFromInline var sportValue: UInt16 = 0
    @usableFromInline var dportValue: UInt16 = 0
    @usableFromInline var windowValue: UInt16 = 0
    @usableFromInline var icmpIDValue: UInt16 = 0
    @usableFromInline var icmpSeqValue: UInt16 = 0
    @usableFromInline var macProtoValue: UInt16 = 0
    public var tcpFlags: TCPFlags = []
    @usableFromInline var macSrcSlot = NameSlot.none
    @usableFromInline var macDstSlot = NameSlot.none
    @usableFromInline var protoValue: UInt8 = 0
    @usableFromInline var ttlValue: UInt8 = 0
    @usableFromInline var tosValue: UInt8 = 0
    @usableFromInline var icmpTypeValue: UInt8 = 0
    @usableFromInline var icmpCodeValue: UInt8 = 0
    public var ipFlags: IPFlags = []

    @inlinable @inline(__always) public init() {}

    @inlinable @inline(__always) public var src: IPAddress? {
        get { address(srcHigh, srcLow, .src, .srcV6) }
        set { (srcHigh, srcLow) = store(newValue, .src, .srcV6) }
    }
    @inlinable @inline(__always) public var dst: IPAddress? {
        get { address(dstHigh, dstLow, .dst, .dstV6) }
        set { (dstHigh, dstLow) = store(newValue, .dst, .dstV6) }
    }
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    @inlinable @inline(__always) public var proto: UInt8? {
        get { present.contains(.proto) ? protoValue : nil }
        set { protoValue = store(newValue, .proto) }
    }
    @inlinable @inline(__always) public var sport: UInt16? {
        get { present.contains(.sport) ? sportValue : nil }
        set { sportValue = store(newValue, .sport) }
    }
    @inlinable @inline(__always) public var dport: UInt16? {
        get { present.contains(.dport) ? dportValue : nil }
        set { dportValue = store(newValue, .dport) }
    }
    /// IPv4 identification, or the IPv6 fragment id.
    @inlinable @inline(__always) public var ipID: UInt32? {
        get { present.contains(.ipID) ? ipIDValue : nil }
        set { ipIDValue = store(newValue, .ipID) }
    }
    /// TTL, or the IPv6 hop limit.
    @inlinable @inline(__always) public var ttl: UInt8? {
        get { present.contains(.ttl) ? ttlValue : nil }
        set { ttlValue = store(newValue, .ttl) }
    }
    /// IP total length (IPv6: payload + 40, as the kernel prints it).
    @inlinable @inline(__always) public var length: UInt32? {
        get { present.contains(.length) ? lengthValue : nil }
        set { lengthValue = store(newValue, .length) }
    }
    @inlinable @inline(__always) public var tos: UInt8? {
        get { present.contains(.tos) ? tosValue : nil }
        set { tosValue = store(newValue, .tos) }
    }
    /// Fragment offset as printed (8-byte units for IPv4, bytes for IPv6).
    @inlinable @inline(__always) public var fragment: UInt32? {
        get { present.contains(.fragment) ? fragmentValue : nil }
        set { fragmentValue = store(newValue, .fragment) }
    }
    @inlinable @inline(__always) public var tcpSeq: UInt32? {
        get { present.contains(.tcpSeq) ? tcpSeqValue : nil }
        set { tcpSeqValue = store(newValue, .tcpSeq) }
    }
    @inlinable @inline(__always) public var tcpAck: UInt32? {
        get { present.contains(.tcpAck) ? tcpAckValue : nil }
        set { tcpAckValue = store(newValue, .tcpAck) }
    }
    @inlinable @inline(__always) public var window: UInt16? {
        get { present.contains(.window) ? windowValue : nil }
        set { windowValue = store(newValue, .window) }
    }
    @inlinable @inline(__always) public var icmpType: UInt8? {
        get { present.contains(.icmpType) ? icmpTypeValue : nil }
        set { icmpTypeValue = store(newValue, .icmpType) }
    }
    @inlinable @inline(__always) public var icmpCode: UInt8? {
        get { present.contains(.icmpCode) ? icmpCodeValue : nil }
        set { icmpCodeValue = store(newValue, .icmpCode) }
    }
    /// ICMP echo identifier (the "port" of ICMP for conntrack and NAT).
    @inlinable @inline(__always) public var icmpID: UInt16? {
        get { present.contains(.icmpID) ? icmpIDValue : nil }
        set { icmpIDValue = store(newValue, .icmpID) }
    }
    @inlinable @inline(__always) public var icmpSeq: UInt16? {
        get { present.contains(.icmpSeq) ? icmpSeqValue : nil }
        set { icmpSeqValue = store(newValue, .icmpSeq) }
    }
    @inlinable @inline(__always) public var mark: UInt32? {
        get { present.contains(.mark) ? markValue : nil }
        set { markValue = store(newValue, .mark) }
    }
    @inlinable @inline(__always) public var uid: UInt32? {
        get { present.contains(.uid) ? uidValue : nil }
        set { uidValue = store(newValue, .uid) }
    }
    @inlinable @inline(__always) public var gid: UInt32? {
        get { present.contains(.gid) ? gidValue : nil }
        set { gidValue = store(newValue, .gid) }
    }
    /// Source and destination MAC addresses as printed.
    @inlinable @inline(__always) public var macSrc: String? {
        get { macSrcName.string }
        set { macSrcName = Name.of(newValue) }
    }
    @inlinable @inline(__always) public var macSrcName: Name? {
        get { rare.name(macSrcSlot, field: 0) }
        set { macSrcSlot = rare.slot(newValue, field: 0, replacing: macSrcSlot) }
    }
    @inlinable @inline(__always) public var macDst: String? {
        get { macDstName.string }
        set { macDstName = Name.of(newValue) }
    }
    @inlinable @inline(__always) public var macDstName: Name? {
        get { rare.name(macDstSlot, field: 1) }
        set { macDstSlot = rare.slot(newValue, field: 1, replacing: macDstSlot) }
    }
    @inlinable @inline(__always) public var macProto: UInt16? {
        get { present.contains(.macProto) ? macProtoValue : nil }
        set { macProtoValue = store(newValue, .macProto) }
    }
    /// For ICMP errors: the header embedded in the message (one level only, as the kernel prints it).
    @inlinable @inline(__always) public var embedded: EmbeddedHeader? {
        get { rare.isEmpty ? nil : rare.embedded }
        set { if !(rare.isEmpty && newValue == nil) { rare.embedded = newValue } }
    }
    /// `INCOMPLETE [N bytes]` on the outer header.
    @inlinable @inline(__always) public var incompleteBytes: Int? {
        get { rare.isEmpty ? nil : rare.incompleteBytes }
        set { if !(rare.isEmpty && newValue == nil) { rare.incompleteBytes = newValue } }
    }
    /// Whether `extra` holds an item, without making the array (a renderer asks for every step).
    @inlinable @inline(__always) public var hasExtra: Bool { !rare.isEmpty && !rare.extra.isEmpty }
    /// The box of the header's rare fields, nil when it has none: headers with the same box have the
    /// same `extra` (a parser shares one box among the records with the same `OPT (...)` tail).
    @inlinable @inline(__always) public var rareIdentity: ObjectIdentifier? {
        guard let box = rare.box else { return nil }
        return ObjectIdentifier(box)
    }
    /// Fields this parser does not interpret, kept verbatim in order ("KEY=VALUE" or bare tokens).
    @inlinable @inline(__always) public var extra: [String] {
        get { rare.isEmpty ? [] : rare.extra }
        set { if !(rare.isEmpty && newValue.isEmpty) { rare.extra = newValue } }
    }

    @inlinable @inline(__always) public var isV6: Bool {
        present.contains(.src) ? present.contains(.srcV6) : present.contains(.dstV6)
    }

    /// Whether `other` has the same addresses, ports, TTL, IP id, length, TCP sequence and flags, ICMP
    /// type and code, mark and UID (the fields a walk's step prints): the stored values compared as
    /// words, where building and comparing the optionals cost a JSON step writer ~250 instructions a
    /// step (issue 10, scripts/icount.sh). Values of absent fields are zero; were one not, the answer
    /// would only be a needless `false`.
    @inlinable @inline(__always) public func sameStepFields(as other: PacketHeader) -> Bool {
        sameStepFields(as: other, ttl: true)
    }

    /// `sameStepFields(as:)`, the TTL compared only with `ttl`: a routed packet's next header differs
    /// in it alone.
    @inlinable @inline(__always) public func sameStepFields(as other: PacketHeader, ttl: Bool) -> Bool {
        let others: Present = [
            .src, .dst, .srcV6, .dstV6, .sport, .dport, .ipID, .length, .tcpSeq, .icmpType, .icmpCode, .mark, .uid,
        ]
        let shown = Present(rawValue: others.rawValue | (ttl ? Present.ttl.rawValue : 0))
        let addresses =
            (srcHigh ^ other.srcHigh) | (srcLow ^ other.srcLow) | (dstHigh ^ other.dstHigh)
            | (dstLow ^ other.dstLow)
        let wide =
            (ipIDValue ^ other.ipIDValue) | (lengthValue ^ other.lengthValue)
            | (tcpSeqValue ^ other.tcpSeqValue) | (markValue ^ other.markValue) | (uidValue ^ other.uidValue)
            | ((present.rawValue ^ other.present.rawValue) & shown.rawValue)
        let narrow =
            (sportValue ^ other.sportValue) | (dportValue ^ other.dportValue)
            | (tcpFlags.rawValue ^ other.tcpFlags.rawValue)
            | UInt16(
                ((ttlValue ^ other.ttlValue) & (ttl ? 0xFF : 0)) | (icmpTypeValue ^ other.icmpTypeValue)
                    | (icmpCodeValue ^ other.icmpCodeValue))
        return addresses | UInt64(wide) | UInt64(narrow) == 0
    }

    /// Ports for TCP/UDP-like protocols, the echo identifier for ICMP: what NAT rewrites.
    @inlinable @inline(__always) public var sourcePort: UInt16? { sport ?? icmpID }
    @inlinable @inline(__always) public var destinationPort: UInt16? { dport ?? icmpID }

    /// Which optional fields are there (and which addresses are IPv6).
    @usableFromInline struct Present: OptionSet, Equatable, Sendable {
        @usableFromInline let rawValue: UInt32
        @inlinable @inline(__always) init(rawValue: UInt32) { self.rawValue = rawValue }
        @inlinable @inline(__always) static var src: Present { Present(rawValue: 1 << 0) }
        @inlinable @inline(__always) static var dst: Present { Present(rawValue: 1 << 1) }
        @inlinable @inline(__always) static var srcV6: Present { Present(rawValue: 1 << 2) }
        @inlinable @inline(__always) static var dstV6: Present { Present(rawValue: 1 << 3) }
        @inlinable @inline(__always) static var proto: Present { Present(rawValue: 1 << 4) }
        @inlinable @inline(__always) static var sport: Present { Present(rawValue: 1 << 5) }
        @inlinable @inline(__always) static var dport: Present { Present(rawValue: 1 << 6) }
        @inlinable @inline(__always) static var ipID: Present { Present(rawValue: 1 << 7) }
        @inlinable @inline(__always) static var ttl: Present { Present(rawValue: 1 << 8) }
        @inlinable @inline(__always) static var length: Present { Present(rawValue: 1 << 9) }
        @inlinable @inline(__always) static var tos: Present { Present(rawValue: 1 << 10) }
        @inlinable @inline(__always) static var fragment: Present { Present(rawValue: 1 << 11) }
        @inlinable @inline(__always) static var tcpSeq: Present { Present(rawValue: 1 << 12) }
        @inlinable @inline(__always) static var tcpAck: Present { Present(rawValue: 1 << 13) }
        @inlinable @inline(__always) static var window: Present { Present(rawValue: 1 << 14) }
        @inlinable @inline(__always) static var icmpType: Present { Present(rawValue: 1 << 15) }
        @inlinable @inline(__always) static var icmpCode: Present { Present(rawValue: 1 << 16) }
        @inlinable @inline(__always) static var icmpID: Present { Present(rawValue: 1 << 17) }
        @inlinable @inline(__always) static var icmpSeq: Present { Present(rawValue: 1 << 18) }
        @inlinable @inline(__always) static var mark: Present { Present(rawValue: 1 << 19) }
        @inlinable @inline(__always) static var uid: Present { Present(rawValue: 1 << 20) }
        @inlinable @inline(__always) static var gid: Present { Present(rawValue: 1 << 21) }
        @inlinable @inline(__always) static var macProto: Present { Present(rawValue: 1 << 22) }
    }

    /// The value to store for `value`, marking it present or (as zero) absent.
    @inlinable @inline(__always) mutating func store<T: FixedWidthInteger>(_ value: T?, _ field: Present) -> T {
        guard let value else {
            present.remove(field)
            return 0
        }
        present.insert(field)
        return value
    }

    @inlinable @inline(__always) func address(_ high: UInt64, _ low: UInt64, _ field: Present, _ v6: Present)
        -> IPAddress?
    {
        guard present.contains(field) else { return nil }
        return IPAddress(high: high, low: low, isV6: present.contains(v6))
    }

    @inlinable @inline(__always) mutating func store(_ value: IPAddress?, _ field: Present, _ v6: Present)
        -> (UInt64, UInt64)
    {
        guard let value else {
            present.remove([field, v6])
            return (0, 0)
        }
        present.insert(field)
        if value.isV6 { present.insert(v6) } else { present.remove(v6) }
        return (value.high, value.low)
    }

    /// What an nf_log dump prints from `PROTO=` on: the transport header's fields, with their
    /// presence. `NfLogScanner` keeps it per dump tail (`TailCache`).
    struct Transport {
        var present: Present = []
        var tcpSeq: UInt32 = 0
        var tcpAck: UInt32 = 0
        var sport: UInt16 = 0
        var dport: UInt16 = 0
        var window: UInt16 = 0
        var icmpID: UInt16 = 0
        var icmpSeq: UInt16 = 0
        var tcpFlags: TCPFlags = []
        var proto: UInt8 = 0
        var icmpType: UInt8 = 0
        var icmpCode: UInt8 = 0

        static let fields: Present = [
            .proto, .sport, .dport, .tcpSeq, .tcpAck, .window, .icmpType, .icmpCode, .icmpID, .icmpSeq,
        ]
    }

    /// The transport fields; setting them replaces all of them (absent ones become zero).
    var transport: Transport {
        get {
            Transport(
                present: present.intersection(Transport.fields), tcpSeq: tcpSeqValue, tcpAck: tcpAckValue,
                sport: sportValue, dport: dportValue, window: windowValue, icmpID: icmpIDValue,
                icmpSeq: icmpSeqValue, tcpFlags: tcpFlags, proto: protoValue, icmpType: icmpTypeValue,
                icmpCode: icmpCodeValue)
        }
        set {
            present = present.subtracting(Transport.fields).union(newValue.present)
            tcpSeqValue = newValue.tcpSeq
            tcpAckValue = newValue.tcpAck
            sportValue = newValue.sport
            dportValue = newValue.dport
            windowValue = newValue.window
            icmpIDValue = newValue.icmpID
            icmpSeqValue = newValue.icmpSeq
            tcpFlags = newValue.tcpFlags
            protoValue = newValue.proto
            icmpTypeValue = newValue.icmpType
            icmpCodeValue = newValue.icmpCode
        }
    }
}

/// What few headers have: `PacketHeader`'s rare fields.
@usableFromInline struct RareHeaderFields: RareFields {
    var embedded: EmbeddedHeader?
    var incompleteBytes: Int?
    var extra: [String] = [] {
        didSet { mayHoldConntrack = extra.contains { $0.utf8.first == UInt8(ascii: "c") } }
    }
    /// Whether an item of `extra` starts as nft's `conntrack:` items do: the reply linker asks it of
    /// every step of every walk, where going through `extra` (made, retained, each item read) cost
    /// about 150 instructions a walk on a log whose lines keep TCP options there (callgrind,
    /// scripts/icount.sh on bench-out/t10.log). Set with `extra`, whose every change goes through here.
    private(set) var mayHoldConntrack = false
    @usableFromInline var names = BoxedNames()

    @usableFromInline init() {}

    @usableFromInline var isEmpty: Bool { embedded == nil && incompleteBytes == nil && extra.isEmpty && names.isEmpty }
}

// Out of line: what inlined accessors read when there is a box (only the box is passed).
extension Rare where Fields == RareHeaderFields {
    @usableFromInline var embedded: EmbeddedHeader? {
        get { box?.fields.embedded }
        set { update { $0.embedded = newValue } }
    }
    @usableFromInline var incompleteBytes: Int? {
        get { box?.fields.incompleteBytes }
        set { update { $0.incompleteBytes = newValue } }
    }
    @usableFromInline var extra: [String] {
        get { box?.fields.extra ?? [] }
        set { update { $0.extra = newValue } }
    }
    var mayHoldConntrack: Bool { box?.fields.mayHoldConntrack ?? false }
}

/// The inner header printed in brackets inside an ICMP error.
public struct EmbeddedHeader: Equatable, Sendable {
    public var src: IPAddress?
    public var dst: IPAddress?
    public var proto: UInt8?
    public var sport: UInt16?
    public var dport: UInt16?
    public var ipID: UInt32?
    public var length: UInt32?
    public init() {}
}

/// IPv4 header flag bits as the kernel prints them.
public struct IPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    public static let ce = IPFlags(rawValue: 1)
    public static let df = IPFlags(rawValue: 2)
    public static let mf = IPFlags(rawValue: 4)
}

/// TCP flag bits, in the kernel's bit order.
public struct TCPFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let fin = TCPFlags(rawValue: 0x001)
    public static let syn = TCPFlags(rawValue: 0x002)
    public static let rst = TCPFlags(rawValue: 0x004)
    public static let psh = TCPFlags(rawValue: 0x008)
    public static let ack = TCPFlags(rawValue: 0x010)
    public static let urg = TCPFlags(rawValue: 0x020)
    public static let ece = TCPFlags(rawValue: 0x040)
    public static let cwr = TCPFlags(rawValue: 0x080)
    public static let ae = TCPFlags(rawValue: 0x100)

    /// Names in the order nf_log prints them.
    public static let printOrder: [(TCPFlags, String)] = [
        (.ae, "AE"), (.cwr, "CWR"), (.ece, "ECE"), (.urg, "URG"), (.ack, "ACK"), (.psh, "PSH"), (.rst, "RST"),
        (.syn, "SYN"), (.fin, "FIN"),
    ]

    public var names: [String] { TCPFlags.printOrder.filter { contains($0.0) }.map(\.1) }
}

/// IP protocol numbers and the names the JSON contract uses.
public enum IPProtocol {
    public static let icmp: UInt8 = 1
    public static let igmp: UInt8 = 2
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let gre: UInt8 = 47
    public static let esp: UInt8 = 50
    public static let ah: UInt8 = 51
    public static let icmpv6: UInt8 = 58
    public static let sctp: UInt8 = 132
    public static let udplite: UInt8 = 136

    public static func name(_ number: UInt8) -> String {
        switch number {
        case icmp: return "icmp"
        case igmp: return "igmp"
        case tcp: return "tcp"
        case udp: return "udp"
        case gre: return "gre"
        case esp: return "esp"
        case ah: return "ah"
        case icmpv6: return "icmpv6"
        case sctp: return "sctp"
        case udplite: return "udplite"
        default: return String(number)
        }
    }

    public static func number(_ name: String) -> UInt8? {
        switch name.lowercased() {
        case "icmp": return icmp
        case "igmp": return igmp
        case "tcp": return tcp
        case "udp": return udp
        case "gre": return gre
        case "esp": return esp
        case "ah": return ah
        case "icmpv6", "ipv6-icmp", "icmp6": return icmpv6
        case "sctp": return sctp
        case "udplite": return udplite
        default: return UInt8(name)
        }
    }
}
