#if os(Linux)
import CMnl
import Glibc
import PathTraceCore
import SystemPackage

/// Reads nftables trace events (NFT_MSG_TRACE on NFNLGRP_NFTRACE) with libmnl and turns them into
/// `TraceEvent`s (origin `.netlink`, source `netlink:<n>`).
///
/// The kernel builds trace messages only while some socket listens, and only for packets with
/// `meta nftrace set 1` (or iptables-nft `-j TRACE`); installing those rules is not this type's job.
/// Events are delivered on the collector's own thread, in the order the kernel sent them.
public final class NftTraceCollector: TraceCollector, @unchecked Sendable {
    public struct Options: Sendable {
        /// The namespace to trace in; `.current` stays in the caller's.
        public var netns: TraceNamespace
        /// Receive buffer asked for (SO_RCVBUFFORCE, else SO_RCVBUF up to rmem_max).
        public var receiveBufferBytes: Int
        /// Trace ids whose last packet dump is remembered for the events that follow it.
        public var rememberedPackets: Int
        /// Keeps each packet dump's network and transport headers on its events (`TraceEvent.packetBytes`,
        /// for `--pcap`).
        public var keepPacketBytes: Bool

        public init(
            netns: TraceNamespace = .current, receiveBufferBytes: Int = 16 << 20, rememberedPackets: Int = 1024,
            keepPacketBytes: Bool = false
        ) {
            self.netns = netns
            self.receiveBufferBytes = receiveBufferBytes
            self.rememberedPackets = rememberedPackets
            self.keepPacketBytes = keepPacketBytes
        }
    }

    public let options: Options
    private let state = CollectorState()
    private let loop: CollectorLoop

    public init(options: Options = Options()) {
        self.options = options
        loop = CollectorLoop(name: "pathtrace-nft-trace", netns: options.netns, state: state)
    }

    /// Opens the socket inside the namespace, joins NFNLGRP_NFTRACE and starts the receive thread.
    /// Returns once subscribed, so events of packets sent afterwards are seen.
    /// Throws `LinuxError.permissionDenied` without CAP_NET_ADMIN, `.noSuchNamespace` for a missing namespace.
    public func start(_ onEvent: @escaping @Sendable (TraceEvent) -> Void) throws {
        try startInBatches({ for event in $0 { onEvent(event) } })
    }

    /// The same, with each batch of datagrams' events handed over at once.
    public func startInBatches(_ onBatch: @escaping @Sendable ([TraceEvent]) -> Void) throws {
        let source = NftTraceSource(options: options, state: state, onBatch: onBatch)
        try loop.start(source)
    }

    /// Stops the receive thread after reading what is already queued; safe to call more than once.
    public func stop() {
        loop.stop()
    }

    /// Counters so far (events, lost, overruns, ...).
    public var counters: CollectorCounters { state.counters }

    /// The error that ended the receive loop early, if any.
    public var failure: LinuxError? { state.failure }
}

/// The socket side of the nft collector; lives on the collector thread.
final class NftTraceSource: RecordSource {
    let options: NftTraceCollector.Options
    let state: CollectorState
    let onBatch: @Sendable ([TraceEvent]) -> Void
    /// The events of the datagrams of one receive, handed over together (its storage kept).
    private var pending: [TraceEvent] = []
    var socket: OpaquePointer?
    let decoder: NftTraceDecoder
    /// Datagrams taken per system call, each in its own slot (a trace message stays far below 8 KiB).
    static let slots = 128
    static let slotSize = 8192
    let buffer: UnsafeMutableRawPointer
    let lengths: UnsafeMutablePointer<UInt32>

    init(
        options: NftTraceCollector.Options, state: CollectorState, onBatch: @escaping @Sendable ([TraceEvent]) -> Void
    ) {
        self.options = options
        self.state = state
        self.onBatch = onBatch
        decoder = NftTraceDecoder(
            rememberedPackets: options.rememberedPackets, keepPacketBytes: options.keepPacketBytes)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.slots * Self.slotSize, alignment: 8)
        lengths = .allocate(capacity: Self.slots)
    }

    deinit {
        buffer.deallocate()
        lengths.deallocate()
    }

    func open() throws -> Int32 {
        let nl = try Sys.pointer("mnl_socket_open(NETLINK_NETFILTER)") { mnl_socket_open(NETLINK_NETFILTER) }
        socket = nl
        do {
            try Sys.call("bind netlink socket") { mnl_socket_bind(nl, 0, pid_t(MNL_SOCKET_AUTOPID)) }
            var group = Int32(NFNLGRP_NFTRACE.rawValue)
            try Sys.call("join NFNLGRP_NFTRACE") {
                mnl_socket_setsockopt(nl, NETLINK_ADD_MEMBERSHIP, &group, socklen_t(MemoryLayout<Int32>.size))
            }
            let fd = mnl_socket_get_fd(nl)
            setReceiveBuffer(fd, bytes: options.receiveBufferBytes)
            return fd
        } catch {
            mnl_socket_close(nl)
            socket = nil
            throw error
        }
    }

    func receive() -> ReceiveOutcome {
        guard let nl = socket else { return .failed(EBADF) }
        let fd = mnl_socket_get_fd(nl)
        let r = Sys.attempt {
            pt_recv_batch(fd, buffer, UInt32(Self.slots), UInt32(Self.slotSize), lengths)
        }
        switch r {
        case .failure(let e):
            if e == .resourceTemporarilyUnavailable || e == .wouldBlock { return .wouldBlock }
            if e == .noBufferSpace {
                state.update { $0.lost += 1 }
                return .overrun
            }
            return .failed(e.rawValue)
        case .success(let count):
            let now = wallClock()
            var stats = NftTraceDecoder.Stats()
            var truncated = 0
            for i in 0..<Int(count) {
                let length = Int(lengths[i])
                guard length > 0 else {
                    // Cut short by its slot: whatever events it held are gone, and say so.
                    stats.malformed += 1
                    truncated += 1
                    continue
                }
                let slot = UnsafeRawBufferPointer(start: buffer + i * Self.slotSize, count: length)
                let s = decoder.decode(slot, time: now) { pending.append($0) }
                stats.messages += s.messages
                stats.malformed += s.malformed
            }
            let delivered = pending.count
            if delivered > 0 {
                onBatch(pending)
                pending.removeAll(keepingCapacity: true)
            }
            state.update {
                $0.messages += stats.messages
                $0.malformed += stats.malformed
                $0.events += delivered
                $0.lost += truncated
            }
            return count == 0 ? .wouldBlock : .handled
        }
    }

    func close() {
        if let nl = socket { mnl_socket_close(nl) }
        socket = nil
    }
}

/// Asks for a large receive buffer: SO_RCVBUFFORCE (CAP_NET_ADMIN, above rmem_max), else SO_RCVBUF.
func setReceiveBuffer(_ fd: Int32, bytes: Int) {
    var size = Int32(clamping: bytes)
    let len = socklen_t(MemoryLayout<Int32>.size)
    if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, len) != 0 {
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, len)
    }
}

/// Decodes NFT_MSG_TRACE messages into events; keeps the last packet dump per trace id, because the
/// kernel sends the headers only with the first event of each base-chain invocation.
final class NftTraceDecoder {
    struct Carried {
        var header: PacketHeader?
        /// The network and transport headers as the kernel sent them (`TraceEvent.packetBytes`).
        var bytes: [UInt8]?
        var inIface: Name?
        var outIface: Name?
        var family: Family?
    }

    struct Stats {
        var messages = 0
        var malformed = 0
    }

    var sequence = 0
    var carried: RecentMap<UInt32, Carried>
    /// The link-layer addresses' names decoded last.
    private var macs = MacNames()
    var names = InterfaceNames()
    /// Attributes of the message being decoded, by type (filled by the mnl_attr_parse callback).
    /// Raw storage: a class's array property written from the C callback costs an exclusivity check a write.
    static let attrCount = 32
    static let nestedCount = 8
    let attrs = UnsafeMutablePointer<UnsafePointer<nlattr>?>.allocate(capacity: attrCount)
    let nested = UnsafeMutablePointer<UnsafePointer<nlattr>?>.allocate(capacity: nestedCount)
    /// Table and chain names repeat in every message: each distinct one becomes a String once.
    var strings = NameInterner()
    /// Resolves interface indexes; replaceable in tests.
    var interfaceName: ((UInt32) -> String?)?

    /// Whether events keep the headers' bytes (`TraceEvent.packetBytes`).
    let keepPacketBytes: Bool

    init(rememberedPackets: Int = 1024, keepPacketBytes: Bool = false) {
        self.keepPacketBytes = keepPacketBytes
        carried = RecentMap(capacity: rememberedPackets)
        attrs.initialize(repeating: nil, count: Self.attrCount)
        nested.initialize(repeating: nil, count: Self.nestedCount)
    }

    deinit {
        attrs.deallocate()
        nested.deallocate()
    }

    /// Decodes every message in `buffer` (one datagram); trace events go to `emit`.
    func decode(_ buffer: UnsafeRawBufferPointer, time: Double?, emit: (TraceEvent) -> Void) -> Stats {
        var stats = Stats()
        guard let base = buffer.baseAddress, buffer.count >= MemoryLayout<nlmsghdr>.size else { return stats }
        var len = Int32(clamping: buffer.count)
        var nlh: UnsafePointer<nlmsghdr>? = base.assumingMemoryBound(to: nlmsghdr.self)
        while let h = nlh, mnl_nlmsg_ok(h, len) {
            if h.pointee.nlmsg_type == pt_nft_trace_msg_type() {
                stats.messages += 1
                if let event = message(h, time: time) { emit(event) } else { stats.malformed += 1 }
            }
            nlh = UnsafePointer(mnl_nlmsg_next(h, &len))
        }
        return stats
    }

    /// One NFT_MSG_TRACE message → one event; nil when table, chain or type is missing.
    func message(_ nlh: UnsafePointer<nlmsghdr>, time: Double?) -> TraceEvent? {
        let genSize = MemoryLayout<nfgenmsg>.size
        guard Int(nlh.pointee.nlmsg_len) >= MemoryLayout<nlmsghdr>.size + genSize else { return nil }
        let tableFamily = mnl_nlmsg_get_payload(nlh).load(as: nfgenmsg.self).nfgen_family
        attrs.update(repeating: nil, count: Self.attrCount)
        let context = Unmanaged.passUnretained(self).toOpaque()
        let parsed = mnl_attr_parse(
            nlh, UInt32(genSize),
            { attr, data in
                guard let attr, let data else { return MNL_CB_OK }
                let d = Unmanaged<NftTraceDecoder>.fromOpaque(data).takeUnretainedValue()
                let type = Int(mnl_attr_get_type(attr))
                if type < NftTraceDecoder.attrCount { d.attrs[type] = attr }
                return MNL_CB_OK
            }, context)
        guard parsed >= 0 else { return nil }

        guard let table = attr(NFTA_TRACE_TABLE.rawValue).flatMap(interned),
            let chain = attr(NFTA_TRACE_CHAIN.rawValue).flatMap(interned),
            let type = u32(NFTA_TRACE_TYPE.rawValue)
        else { return nil }
        let handle = u64(NFTA_TRACE_RULE_HANDLE.rawValue)
        var kind: StepKind
        switch type {
        case UInt32(NFT_TRACETYPE_POLICY.rawValue): kind = .policy
        case UInt32(NFT_TRACETYPE_RETURN.rawValue): kind = .return
        case UInt32(NFT_TRACETYPE_RULE.rawValue):
            // Linux 6.18 reports a chain that ran out of rules as a RULE event without a handle
            // ("verdict continue"; nft monitor prints nothing for it): that is the chain's end.
            kind = handle == nil ? .return : .rule
        default: return nil
        }
        sequence += 1
        var event = TraceEvent(
            source: SourcePosition(fileName: NflogRecord.netlink, line: sequence), origin: .netlink, family: .ipv4,
            table: table,
            chain: chain, kind: kind)
        // NFT_MSG_TRACE carries no time: this is when the datagram batch was read.
        event.time = time
        event.timeBasis = .received
        event.tableFamilyName = NftTraceDecoder.familyName(tableFamily)
        event.rule = handle.map { .handle($0) }
        // libnftnl applies ntohl() and nft prints %08x: reading the bytes big-endian gives the same id.
        let id = u32(NFTA_TRACE_ID.rawValue)
        event.traceID = id
        if kind == .policy {
            if let p = u32(NFTA_TRACE_POLICY.rawValue) {
                event.verdict = p == 1 ? .accept : p == 0 ? .drop : .other(Name(String(p)))
            }
        } else if let v = attrs[Int(NFTA_TRACE_VERDICT.rawValue)] {
            event.verdict = verdict(v)
        }

        var packet: Carried?
        if let network = bytes(NFTA_TRACE_NETWORK_HEADER.rawValue) {
            let transport = bytes(NFTA_TRACE_TRANSPORT_HEADER.rawValue)
            var header = PacketDecoder.decode(network: network, transport: transport)
            if let ll = bytes(NFTA_TRACE_LL_HEADER.rawValue),
                [1, 772].contains(u16(NFTA_TRACE_IIFTYPE.rawValue) ?? 1)
            {
                PacketDecoder.decodeEthernet(ll, into: &header, macs: &macs)
            }
            packet = Carried(
                header: header,
                bytes: keepPacketBytes ? NftTraceDecoder.packetBytes(network: network, transport: transport) : nil,
                family: header.src.map { $0.isV6 ? .ipv6 : .ipv4 })
        }
        let iif = u32(NFTA_TRACE_IIF.rawValue)
        let oif = u32(NFTA_TRACE_OIF.rawValue)
        if iif != nil || oif != nil {
            if packet == nil { packet = Carried() }
            packet?.inIface = iif.flatMap(resolve)
            packet?.outIface = oif.flatMap(resolve)
        }
        if let packet, let id {
            carried.store(packet, for: id)
        }
        let use = packet ?? id.flatMap { carried[$0] }
        if let use {
            event.header = use.header
            event.packetBytes = use.bytes
            event.inIfaceName = use.inIface
            event.outIfaceName = use.outIface
        }
        let mark = u32(NFTA_TRACE_MARK.rawValue)
        if event.header != nil { event.header?.mark = mark }
        let nfproto = u32(NFTA_TRACE_NFPROTO.rawValue)
        event.family = NftTraceDecoder.family(tableFamily: tableFamily, nfproto: nfproto, packet: use?.family)
        return event
    }

    /// The packet as far as the kernel sent it: the network header (at most 40 bytes), then the
    /// transport header (at most 20) when it follows the network header directly; otherwise (IPv6
    /// extension headers past the 40 bytes, IPv4 options cut short) the network header alone, since
    /// the bytes between are missing.
    static func packetBytes(network: UnsafeRawBufferPointer, transport: UnsafeRawBufferPointer?) -> [UInt8] {
        var bytes = Array(network)
        guard let transport, let first = network.first else { return bytes }
        let headerLength: Int
        switch first >> 4 {
        case 4: headerLength = Int(first & 0x0F) * 4
        case 6: headerLength = network.count >= 40 && !ipv6Extensions.contains(network[6]) ? 40 : -1
        default: headerLength = -1
        }
        if headerLength == network.count { bytes.append(contentsOf: transport) }
        return bytes
    }

    /// IPv6 next-header values of extension headers (hop-by-hop, routing, fragment, ESP, AH, destination
    /// options, mobility, HIP, shim6).
    static let ipv6Extensions: Set<UInt8> = [0, 43, 44, 50, 51, 60, 135, 139, 140]

    private func resolve(_ index: UInt32) -> Name? {
        if let interfaceName { return interfaceName(index).map { Name($0) } }
        return names.name(index)
    }

    /// `familyWord` as a name (every message carries one).
    static func familyName(_ family: UInt8) -> Name {
        switch Int32(family) {
        case 1: return familyNames.inet
        case AF_INET: return familyNames.ip
        case AF_INET6: return familyNames.ip6
        case 7: return familyNames.bridge
        default: return Name(familyWord(family))
        }
    }

    private static let familyNames = (inet: Name("inet"), ip: Name("ip"), ip6: Name("ip6"), bridge: Name("bridge"))

    /// `ip`, `ip6`, `inet`, … as nft names the table family.
    static func familyWord(_ family: UInt8) -> String {
        switch Int32(family) {
        case 1: return "inet"
        case AF_INET: return "ip"
        case 3: return "arp"
        case 5: return "netdev"
        case 7: return "bridge"
        case AF_INET6: return "ip6"
        default: return String(family)
        }
    }

    /// Fixed by ip, ip6, arp and bridge tables; the packet's own (NFTA_TRACE_NFPROTO) for inet and netdev.
    static func family(tableFamily: UInt8, nfproto: UInt32?, packet: Family?) -> Family {
        switch Int32(tableFamily) {
        case AF_INET: return .ipv4
        case AF_INET6: return .ipv6
        case 3: return .arp
        case 7: return .bridge
        default:
            switch nfproto.map(Int32.init(truncatingIfNeeded:)) {
            case AF_INET?: return .ipv4
            case AF_INET6?: return .ipv6
            case 3?: return .arp
            default: return packet ?? .ipv4
            }
        }
    }

    /// NFTA_TRACE_VERDICT: NFTA_VERDICT_CODE (be32, signed) and NFTA_VERDICT_CHAIN.
    func verdict(_ attr: UnsafePointer<nlattr>) -> StepVerdict? {
        nested.update(repeating: nil, count: Self.nestedCount)
        let context = Unmanaged.passUnretained(self).toOpaque()
        let parsed = mnl_attr_parse_nested(
            attr,
            { attr, data in
                guard let attr, let data else { return MNL_CB_OK }
                let d = Unmanaged<NftTraceDecoder>.fromOpaque(data).takeUnretainedValue()
                let type = Int(mnl_attr_get_type(attr))
                if type < NftTraceDecoder.nestedCount { d.nested[type] = attr }
                return MNL_CB_OK
            }, context)
        guard parsed >= 0, let codeAttr = nested[Int(NFTA_VERDICT_CODE.rawValue)],
            let raw = NftTraceDecoder.u32(codeAttr)
        else { return nil }
        let target = nested[Int(NFTA_VERDICT_CHAIN.rawValue)].flatMap(interned) ?? .empty
        return NftTraceDecoder.verdict(code: Int32(bitPattern: raw), chain: target)
    }

    /// NF_DROP 0, NF_ACCEPT 1, NF_STOLEN 2, NF_QUEUE 3 (queue number in the high bits), NFT_CONTINUE -1,
    /// NFT_BREAK -2, NFT_JUMP -3, NFT_GOTO -4, NFT_RETURN -5.
    static func verdict(code: Int32, chain: Name) -> StepVerdict {
        switch code {
        case -1: return .continue
        case -2: return .break
        case -3: return .jump(chain)
        case -4: return .goto(chain)
        case -5: return .return
        default:
            guard code >= 0 else { return .other(Name(String(code))) }
            switch code & 0xFF {
            case 0: return .drop
            case 1: return .accept
            case 2: return .stolen
            case 3: return .queue
            default: return .other(Name("0x" + String(UInt32(bitPattern: code), radix: 16)))
            }
        }
    }

    // MARK: - Attribute payloads (bounds-checked, big-endian)

    private func attr(_ type: UInt32) -> UnsafePointer<nlattr>? {
        Int(type) < Self.attrCount ? attrs[Int(type)] : nil
    }

    /// A string attribute through the interner.
    func interned(_ a: UnsafePointer<nlattr>) -> Name? {
        let b = NftTraceDecoder.payload(a)
        let end = b.firstIndex(of: 0) ?? b.count
        guard end > 0 else { return nil }
        return strings.name(UnsafeRawBufferPointer(rebasing: b[0..<end]))
    }

    func bytes(_ type: UInt32) -> UnsafeRawBufferPointer? {
        attr(type).map(NftTraceDecoder.payload)
    }

    func string(_ type: UInt32) -> String? { attr(type).flatMap(NftTraceDecoder.string) }
    func u16(_ type: UInt32) -> UInt16? {
        guard let b = bytes(type), b.count >= 2 else { return nil }
        return UInt16(b[0]) << 8 | UInt16(b[1])
    }
    func u32(_ type: UInt32) -> UInt32? { attr(type).flatMap(NftTraceDecoder.u32) }
    func u64(_ type: UInt32) -> UInt64? {
        guard let b = bytes(type), b.count >= 8 else { return nil }
        return b[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
    }

    static func payload(_ a: UnsafePointer<nlattr>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: mnl_attr_get_payload(a), count: Int(mnl_attr_get_payload_len(a)))
    }

    static func u32(_ a: UnsafePointer<nlattr>) -> UInt32? {
        let b = payload(a)
        guard b.count >= 4 else { return nil }
        return b[0..<4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
    }

    /// A NUL-terminated (or length-bounded) string attribute.
    static func string(_ a: UnsafePointer<nlattr>) -> String? {
        let b = payload(a)
        let end = b.firstIndex(of: 0) ?? b.count
        guard end > 0 else { return nil }
        return String(decoding: b[0..<end], as: UTF8.self)
    }
}
#endif
