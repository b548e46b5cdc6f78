/// The decoded headers of one packet as one trace record showed them.
///
/// Every field is optional because each source shows a different subset: a kernel LOG line has no
/// conntrack state, an nft trace dump has no UID, an xtables-monitor line has no TCP sequence.
public struct PacketHeader: Equatable, Sendable {
    public var src: IPAddress?
    public var dst: IPAddress?
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    public var proto: UInt8?
    public var sport: UInt16?
    public var dport: UInt16?
    /// IPv4 identification, or the IPv6 fragment id.
    public var ipID: UInt32?
    /// TTL, or the IPv6 hop limit.
    public var ttl: UInt8?
    /// IP total length (IPv6: payload + 40, as the kernel prints it).
    public var length: UInt32?
    public var tos: UInt8?
    public var ipFlags: IPFlags = []
    /// Fragment offset as printed (8-byte units for IPv4, bytes for IPv6).
    public var fragment: UInt32?
    public var tcpSeq: UInt32?
    public var tcpAck: UInt32?
    public var tcpFlags: TCPFlags = []
    public var window: UInt16?
    public var icmpType: UInt8?
    public var icmpCode: UInt8?
    /// ICMP echo identifier (the "port" of ICMP for conntrack and NAT).
    public var icmpID: UInt16?
    public var icmpSeq: UInt16?
    public var mark: UInt32?
    public var uid: UInt32?
    public var gid: UInt32?
    /// Source and destination MAC addresses as printed.
    public var macSrc: String? {
        get { macSrcName.string }
        set { macSrcName = Name.of(newValue) }
    }
    public var macSrcName: Name?
    public var macDst: String? {
        get { macDstName.string }
        set { macDstName = Name.of(newValue) }
    }
    public var macDstName: Name?
    public var macProto: UInt16?
    /// For ICMP errors: the header embedded in the message (one level only, as the kernel prints it).
    public var embedded: EmbeddedHeader? {
        get { embeddedBox?.value }
        set { embeddedBox = newValue.map(EmbeddedBox.init) }
    }
    /// Boxed: few packets are ICMP errors, and inline it made every header (and every step) 64 bytes
    /// longer, bytes each step copies and the printer reads (scripts/bench-replay.sh).
    private var embeddedBox: EmbeddedBox?
    /// `INCOMPLETE [N bytes]` on the outer header.
    public var incompleteBytes: Int?
    /// Fields this parser does not interpret, kept verbatim in order ("KEY=VALUE" or bare tokens).
    public var extra: [String] = []

    public init() {}

    public var isV6: Bool { src?.isV6 ?? dst?.isV6 ?? false }

    /// Ports for TCP/UDP-like protocols, the echo identifier for ICMP: what NAT rewrites.
    public var sourcePort: UInt16? { sport ?? icmpID }
    public var destinationPort: UInt16? { dport ?? icmpID }
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

/// An embedded header behind a reference, compared by value.
private final class EmbeddedBox: Equatable, Sendable {
    let value: EmbeddedHeader
    init(_ value: EmbeddedHeader) { self.value = value }
    static func == (a: EmbeddedBox, b: EmbeddedBox) -> Bool { a.value == b.value }
}
