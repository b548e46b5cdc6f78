/// A walk still collecting events, with the state the stitcher needs to judge the next one.
///
/// The fields skip Swift's dynamic exclusivity checks (which cost more than the stitcher's work per
/// event): the stitcher uses a walk from one thread, one access at a time.
final class OpenWalk {
    /// The instance's size in bytes, as its class metadata gives it (OpenWalkLayoutTests): what
    /// `ActivityQueue.prefetchFront` loads. A prefetch never faults, so a stale number costs only speed.
    static let instanceBytes = 452

    let packet: Int
    @exclusivity(unchecked) var steps: [WalkStep] = []
    /// The identity fields of the last header seen, copied out so joining never copies a header (none
    /// yet: not `exists`). Not an optional: unwrapping one copied all of it out of the walk for every
    /// candidate of every event, where a method called on this reads only the fields it compares
    /// (callgrind, `replay --format json` of bench-out/t10.log).
    @exclusivity(unchecked) var identity = HeaderIdentity()
    var hasIdentity: Bool { identity.exists }
    /// Index of the last step that carried a header.
    @exclusivity(unchecked) var lastHeaderIndex: Int?
    @exclusivity(unchecked) var lastPosition: HookPosition?
    @exclusivity(unchecked) var lastEventIndex: Int = 0
    /// The stitcher's count of its own events at the last step (`lastEventIndex` counts the stream's).
    @exclusivity(unchecked) var lastAdded: Int = 0
    @exclusivity(unchecked) var lastTime: Double?
    /// When the first step that had a time ran, and the stitcher's event index at the first step
    /// (the lifetime bounds count from them).
    @exclusivity(unchecked) var firstTime: Double?
    let firstEventIndex: Int
    /// Tables whose chain ran to a terminal verdict at the current hook; they cannot appear again there.
    @exclusivity(unchecked) var finishedTables = FinishedUnits()
    /// The table (legacy) or base chain (nft) the walk is in now; see `Stitcher.invocation`.
    var currentUnit: ChainUnit {
        get { currentKey != 0 ? FinishedUnits.unit(packed: currentKey) : boxedUnit }
        set {
            if let key = FinishedUnits.packed(newValue) {
                currentKey = key
            } else {
                currentKey = 0
                boxedUnit = newValue
            }
        }
    }
    /// Counts the current unit among the finished ones (its chain ran to its end at this stage).
    @inline(__always) func finishCurrentUnit() {
        if currentKey != 0 {
            finishedTables.insert(packed: currentKey)
        } else {
            finishedTables.insert(currentUnit)
        }
    }
    /// `currentUnit` packed as `FinishedUnits` packs it; 0 when a name is boxed (`boxedUnit` holds it).
    @exclusivity(unchecked) var currentKey: UInt64 = FinishedUnits.packed(ChainUnit(table: .empty)) ?? 0
    @exclusivity(unchecked) private var boxedUnit = ChainUnit(table: .empty)
    @exclusivity(unchecked) var confidence: Double = 1
    @exclusivity(unchecked) var notes: [String] = []
    /// Header changes seen between consecutive events: NAT evidence `observed`.
    @exclusivity(unchecked) var changes: [HeaderChange] = []
    /// Set once a step dropped the packet: nothing can follow.
    @exclusivity(unchecked) var dropped = false
    /// Set when no later event can belong to this walk (legacy: the last table of the last hook ran).
    @exclusivity(unchecked) var complete = false
    /// Set when the stitcher closed the walk (stale entries of its queues then skip it).
    @exclusivity(unchecked) var closed = false
    /// The invariant key the stitcher's index holds the walk by, packed (vacant: none), so the key of
    /// each step is compared with two words.
    @exclusivity(unchecked) var indexKey = WalkIndex.Key.vacant
    /// The next open walk with the same invariant key (the stitcher's index chains them).
    @exclusivity(unchecked) var nextWithKey: OpenWalk?
    /// Where the walk is on the kernel's ways through the bridge and IP hooks.
    @exclusivity(unchecked) var progress: FramePaths.Progress?
    /// The flow of the last header, for events that lack the IP invariants (ebtables LOG lines).
    @exclusivity(unchecked) var flowKey: FrameFlow?
    /// Whether `flowKey` is set (asked without copying the key).
    @exclusivity(unchecked) var flowIndexed = false
    /// The next open walk with the same flow key.
    @exclusivity(unchecked) var nextWithFlow: OpenWalk?
    /// The bridge ports a copy of the frame left through (a flooded frame leaves through each).
    @exclusivity(unchecked) var egressPorts: [Name] = []
    /// Whether the last header lacked the IP invariants (counted by the stitcher).
    @exclusivity(unchecked) var weak = false
    /// The position of the walk's live entry in the stitcher's `ActivityQueue` (-1: none); the queue
    /// retains the walk while there is one.
    @exclusivity(unchecked) var queuePosition = -1

    init(packet: Int, eventIndex: Int) {
        self.packet = packet
        firstEventIndex = eventIndex
    }

    /// Drops the walk's arrays once the analyzer has taken them: the stitcher's queues keep a closed
    /// walk's object until they reach it, and its steps would otherwise stay alive with it.
    func release() {
        // Only what holds storage: the analyzer took the steps, most of the rest were never used, and
        // releasing the empty array's storage in their place still cost a call each (about 450,000
        // instructions on bench-out/t10.log; callgrind, `replay --format json`).
        if steps.capacity != 0 { steps = [] }
        if notes.capacity != 0 { notes = [] }
        if changes.capacity != 0 { changes = [] }
        if finishedTables.holdsStorage { finishedTables = FinishedUnits() }
        if egressPorts.capacity != 0 { egressPorts = [] }
    }

    /// The last event, read in place (a copy would retain every string in it); needs a step.
    var last: TraceEvent {
        _read { yield steps[steps.count - 1].event }
    }

    /// The last step that is not an IP LOG line (a LOG rule's line says nothing of the chain it ran in).
    @exclusivity(unchecked) var lastTracedIndex: Int?

    /// The last step's event, LOG lines passed over (the last one when every step is one).
    var lastTraced: TraceEvent {
        _read { yield steps[lastTracedIndex ?? steps.count - 1].event }
    }

    // `lastTraced`'s table and chain slots, and whether the run of its chain ended there (a policy, or
    // an accept verdict), kept as the stitcher sets it: every candidate of every event reads them, and
    // each read through the step (its index, the array's bounds) cost about ten instructions
    // (callgrind, `replay --format json` of bench-out/t10.log).
    @exclusivity(unchecked) var tracedTable = NameSlot.empty
    @exclusivity(unchecked) var tracedChain = NameSlot.empty
    @exclusivity(unchecked) var tracedEnded = false
    /// The last step's device slots, kept as the stitcher appends it: `portsCheck` compares them for
    /// every candidate, where reading them through the step cost its index and the array's bounds.
    @exclusivity(unchecked) var lastInSlot = NameSlot.none
    @exclusivity(unchecked) var lastOutSlot = NameSlot.none

    /// Makes `event`, the next step's, the one `lastTraced` reads, as the stitcher does: a LOG line
    /// only while no step is anything else.
    @inline(__always) func trace(_ event: borrowing TraceEvent, index: Int, ipLog: Bool) {
        guard !ipLog || lastTracedIndex == nil else { return }
        if !ipLog { lastTracedIndex = index }
        tracedTable = event.tableSlot
        tracedChain = event.chainSlot
        tracedEnded = event.kind == .policy || event.verdictTag == .accept
    }

    /// The header of the last step that carried one.
    var lastHeader: PacketHeader? { lastHeaderIndex.flatMap { steps[$0].event.header } }
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

    /// `addr`, `addr:port` or `[v6]:port`, built in place without intermediate strings.
    public var description: String {
        guard let port else { return address.description }
        return String(unsafeUninitializedCapacity: IPAddress.maxTextLength + 8) { buffer in
            let p = buffer.address(0)
            var n = 0
            if address.isV6 {
                p[0] = UInt8(ascii: "[")
                n = 1 + address.writeText(to: p + 1)
                p[n] = UInt8(ascii: "]")
                n += 1
            } else {
                n = address.writeText(to: p)
            }
            p[n] = UInt8(ascii: ":")
            n += 1
            // The port's digits, back to front.
            var digits = 1
            var t = port
            while t >= 10 {
                t /= 10
                digits += 1
            }
            var v = port
            for k in stride(from: n + digits - 1, through: n, by: -1) {
                p[k] = UInt8(truncatingIfNeeded: 48 + v % 10)
                v /= 10
            }
            return n + digits
        }
    }
}

/// The parts of a packet's identity that neither NAT nor forwarding change.
struct InvariantKey: Hashable {
    var proto: UInt8
    var ipID: UInt32
    var length: UInt32
    var seq: UInt32

    /// Two words instead of four fields: every event looks its key up.
    func hash(into hasher: inout Hasher) {
        hasher.combine(UInt64(ipID) << 32 | UInt64(seq))
        hasher.combine(UInt64(length) << 8 | UInt64(proto))
    }

    /// What the stitcher's index hashes with: two multiply-mixes instead of a SipHash round
    /// (the keys come from trace files, not from an adversary).
    func _rawHashValue(seed: Int) -> Int {
        FastHash.mix(UInt64(ipID) << 32 | UInt64(seq), UInt64(length) << 8 | UInt64(proto), seed: seed)
    }

    init(proto: UInt8, ipID: UInt32, length: UInt32, seq: UInt32) {
        self.proto = proto
        self.ipID = ipID
        self.length = length
        self.seq = seq
    }

    init?(_ h: HeaderIdentity?) {
        guard let key = h?.invariantKey else { return nil }
        self = key
    }
}

extension PacketHeader {
    /// The ports that identify the flow for NAT: TCP/UDP ports, or the ICMP echo id on both sides.
    var natSourcePort: UInt16? { sport ?? (isEcho ? icmpID : nil) }
    var natDestinationPort: UInt16? { dport ?? (isEcho ? icmpID : nil) }

    var isEcho: Bool { PacketHeader.isEcho(proto: proto, icmpType: icmpType) }

    /// Whether an ICMP or ICMPv6 type is an echo request or reply.
    @inline(__always) static func isEcho(proto: UInt8?, icmpType: UInt8?) -> Bool {
        guard let t = icmpType else { return false }
        return proto == IPProtocol.icmp ? (t == 8 || t == 0) : (proto == IPProtocol.icmpv6 && (t == 128 || t == 129))
    }

    var sourceEndpoint: Endpoint? { src.map { Endpoint(address: $0, port: sport) } }
    var destinationEndpoint: Endpoint? { dst.map { Endpoint(address: $0, port: dport) } }
}
