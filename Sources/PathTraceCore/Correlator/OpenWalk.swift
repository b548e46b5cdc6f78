/// A walk still collecting events, with the state the stitcher needs to judge the next one.
final class OpenWalk {
    let packet: Int
    var steps: [WalkStep] = []
    var positions: [HookPosition?] = []
    var lastHeader: PacketHeader?
    var lastPosition: HookPosition?
    var lastEventIndex: Int = 0
    var lastTime: Double?
    /// Tables whose chain ran to a terminal verdict at the current hook; they cannot appear again there.
    var finishedTables: [String] = []
    /// The table (legacy) or base chain (nft) the walk is in now; see `Stitcher.invocation`.
    var currentUnit = ""
    var confidence: Double = 1
    var notes: [String] = []
    /// Header changes seen between consecutive events: NAT evidence `observed`.
    var changes: [HeaderChange] = []
    /// Set once a step dropped the packet: nothing can follow.
    var dropped = false
    /// Set when no later event can belong to this walk (legacy: the last table of the last hook ran).
    var complete = false
    var invariantKey: InvariantKey?

    init(packet: Int) {
        self.packet = packet
    }

    var lastEvent: TraceEvent? { steps.last?.event }
}

/// A rewrite of the packet's addresses or ports seen between two events of one walk.
struct HeaderChange {
    /// `src` or `dst`.
    var field: String
    var before: Endpoint
    var after: Endpoint
    /// Index of the step whose header first shows the change.
    var stepIndex: Int
    var from: HookPosition
    var to: HookPosition
}

/// An address with an optional port (or ICMP echo id), printed as DESIGN's `before`/`after`.
public struct Endpoint: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16?

    public init(address: IPAddress, port: UInt16?) {
        self.address = address
        self.port = port
    }

    public var description: String {
        guard let port else { return address.description }
        return address.isV6 ? "[\(address)]:\(port)" : "\(address):\(port)"
    }
}

/// The parts of a packet's identity that neither NAT nor forwarding change.
struct InvariantKey: Hashable {
    var proto: UInt8
    var ipID: UInt32
    var length: UInt32
    var seq: UInt32

    init?(_ h: PacketHeader?) {
        guard let h, let proto = h.proto else { return nil }
        self.proto = proto
        ipID = h.ipID ?? 0
        length = h.length ?? 0
        seq = h.tcpSeq ?? UInt32(h.icmpSeq ?? 0) | UInt32(h.icmpType ?? 0) << 16
    }
}

extension PacketHeader {
    /// The ports that identify the flow for NAT: TCP/UDP ports, or the ICMP echo id on both sides.
    var natSourcePort: UInt16? { sport ?? (isEcho ? icmpID : nil) }
    var natDestinationPort: UInt16? { dport ?? (isEcho ? icmpID : nil) }

    var isEcho: Bool {
        guard let t = icmpType else { return false }
        return proto == IPProtocol.icmp ? (t == 8 || t == 0) : (proto == IPProtocol.icmpv6 && (t == 128 || t == 129))
    }

    var sourceEndpoint: Endpoint? { src.map { Endpoint(address: $0, port: sport) } }
    var destinationEndpoint: Endpoint? { dst.map { Endpoint(address: $0, port: dport) } }
}
