#if os(Linux)
import CNetfilterLog
import Glibc
import PathTraceCore
import SystemPackage

/// Reads an nfnetlink_log group with libnetfilter_log and turns each record into a `TraceEvent`
/// (origin `.netlink`, source `netlink:<n>`).
///
/// * Group 0 receives legacy `-j TRACE` once `net.netfilter.nf_log.<pf>` is `nfnetlink_log` in the
///   namespace: the prefix `TRACE: table:chain:type:num ` gives the step.
/// * Group G receives `NFLOG --nflog-group G` rules. A prefix in pathtrace's convention
///   (`LogPrefix.pathtrace(table:chain:)`, `pt:<table>:<chain>`) gives the step; any other prefix
///   gives a `.log` event carrying it.
///
/// The collector binds the group only; it never touches the PF binding (`PF_UNBIND` would reset
/// `nf_log.<pf>` to NONE). Events are delivered on the collector's own thread.
public final class NflogCollector: TraceCollector, @unchecked Sendable {
    public struct Options: Sendable {
        /// The nfnetlink_log group (0 for legacy TRACE).
        public var group: UInt16
        /// The namespace to listen in; `.current` stays in the caller's.
        public var netns: TraceNamespace
        /// Bytes of each packet copied (from the network header).
        public var copyRange: UInt32
        /// Receive buffer asked for (SO_RCVBUFFORCE, else SO_RCVBUF up to rmem_max).
        public var receiveBufferBytes: Int
        /// Bits of the packet mark that are pathtrace's own (the nflog backend's selection bit,
        /// `TraceRulePlan.nflogMarkBit`): left out of the events, as they were not the packet's.
        public var ownMarkBits: UInt32
        /// Keeps each record's packet on its event (`TraceEvent.packetBytes`, for `--pcap`).
        public var keepPacketBytes: Bool

        public init(
            group: UInt16, netns: TraceNamespace = .current, copyRange: UInt32 = 0xFFFF,
            receiveBufferBytes: Int = 16 << 20, ownMarkBits: UInt32 = 0, keepPacketBytes: Bool = false
        ) {
            self.group = group
            self.netns = netns
            self.copyRange = copyRange
            self.receiveBufferBytes = receiveBufferBytes
            self.ownMarkBits = ownMarkBits
            self.keepPacketBytes = keepPacketBytes
        }
    }

    public let options: Options
    private let state = CollectorState()
    private let loop: CollectorLoop

    public init(options: Options) {
        self.options = options
        loop = CollectorLoop(name: "pathtrace-nflog-\(options.group)", netns: options.netns, state: state)
    }

    /// Opens the handle inside the namespace, binds the group in copy-packet mode with sequence
    /// numbers, and starts the receive thread; returns once bound.
    /// Throws `LinuxError.permissionDenied` without CAP_NET_ADMIN, `.groupBusy` when another socket
    /// has the group, `.noSuchNamespace` for a missing namespace.
    public func start(_ onEvent: @escaping @Sendable (TraceEvent) -> Void) throws {
        try startInBatches({ for event in $0 { onEvent(event) } })
    }

    /// The same, with each datagram's events handed over at once.
    public func startInBatches(_ onBatch: @escaping @Sendable ([TraceEvent]) -> Void) throws {
        let source = NflogSource(options: options, state: state, onBatch: onBatch)
        try loop.start(source)
    }

    /// Stops the receive thread after reading what is already queued; safe to call more than once.
    public func stop() {
        loop.stop()
    }

    /// Counters so far (events, lost from NFULA_SEQ gaps, overruns, ...).
    public var counters: CollectorCounters { state.counters }

    /// The error that ended the receive loop early, if any.
    public var failure: LinuxError? { state.failure }
}

/// One nfnetlink_log record, copied out of the library's attribute table.
struct NflogRecord {
    /// Where live events come from, as `SourcePosition` names it.
    static let netlink = Name("netlink")
    /// `nfgenmsg.nfgen_family`: AF_INET, AF_INET6, AF_BRIDGE, NFPROTO_ARP.
    var family: UInt8
    var hook: UInt8?
    var prefix: String?
    var inIface: Name?
    var outIface: Name?
    var physIn: Name?
    var physOut: Name?
    var mark: UInt32?
    var uid: UInt32?
    var gid: UInt32?
    /// NFULA_TIMESTAMP in seconds (PREROUTING, INPUT, FORWARD only).
    var timestamp: Double?
    var sequence: UInt32?
    var payload: [UInt8]?
    var hardwareHeader: [UInt8]?
    var hardwareType: UInt16?

    /// The event this record stands for; with `keepPacketBytes` it keeps the packet's bytes too.
    func event(line: Int, receivedAt now: Double, keepPacketBytes: Bool = false) -> TraceEvent {
        var table = Name.empty
        var chain = Name.empty
        var kind = StepKind.log
        var rule: RuleRef?
        var verdict: StepVerdict?
        var logPrefix: String?
        if let prefix, let p = LogPrefix.cached(prefix) {
            table = p.tableName
            chain = p.chainName
            kind = p.kind
            rule = p.rule.map { .number($0) }
            // pathtrace's NFLOG rule at a chain's head matched and went on: verdict continue.
            if p.form == .pathtrace && p.rule == nil { verdict = .continue }
        } else {
            logPrefix = prefix ?? ""
        }
        let family: Family
        switch Int32(self.family) {
        case AF_INET6: family = .ipv6
        case AF_BRIDGE: family = .bridge
        case 3: family = .arp
        default: family = .ipv4
        }
        var event = TraceEvent(
            source: SourcePosition(fileName: NflogRecord.netlink, line: line), origin: .netlink, family: family,
            table: table,
            chain: chain, kind: kind)
        event.rule = rule
        event.verdict = verdict
        event.prefix = logPrefix
        if kind == .log { event.hook = nil }
        if family == .bridge, kind == .log, let prefix, let step = BridgeLogPrefix(prefix, knownBridge: true) {
            // An ebtables LOG or NFLOG rule whose prefix names its chain (`TRACE: eb:filter:INPUT`).
            event.table = step.table
            event.chain = step.chain
            event.hook = step.hook
        }
        event.time = timestamp ?? now
        if timestamp == nil { event.timeBasis = .received }
        event.inIfaceName = inIface
        event.outIfaceName = outIface
        event.physInName = physIn
        event.physOutName = physOut
        var header: PacketHeader?
        if let payload, !payload.isEmpty, family == .ipv4 || family == .ipv6 || family == .bridge {
            header = PacketDecoder.decode(payload)
            if keepPacketBytes {
                event.packetBytes =
                    payload.count <= TraceEvent.keptPacketBytes
                    ? payload : Array(payload.prefix(TraceEvent.keptPacketBytes))
            }
        }
        if header == nil && (mark != nil || uid != nil || hardwareHeader != nil) { header = PacketHeader() }
        if var h = header {
            h.mark = mark.flatMap { $0 == 0 ? nil : $0 }
            h.uid = uid
            h.gid = gid
            if let hw = hardwareHeader, hardwareType == 1 || hardwareType == 772 {
                hw.withUnsafeBytes { PacketDecoder.decodeEthernet($0, into: &h) }
            }
            event.header = h
        }
        return event
    }
}

/// The socket side of the nflog collector; lives on the collector thread.
final class NflogSource: RecordSource {
    let options: NflogCollector.Options
    let state: CollectorState
    let onBatch: @Sendable ([TraceEvent]) -> Void
    var handle: OpaquePointer?
    var group: OpaquePointer?
    let bufferSize = 1 << 17
    let buffer: UnsafeMutableRawPointer
    var names = InterfaceNames()
    var line = 0
    var lastSequence: UInt32?
    var receivedAt = 0.0
    var pending: [TraceEvent] = []

    init(options: NflogCollector.Options, state: CollectorState, onBatch: @escaping @Sendable ([TraceEvent]) -> Void) {
        self.options = options
        self.state = state
        self.onBatch = onBatch
        buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: 8)
    }

    deinit { buffer.deallocate() }

    func open() throws -> Int32 {
        let h = try Sys.pointer("nflog_open") { nflog_open() }
        handle = h
        do {
            let g: OpaquePointer
            do {
                g = try Sys.pointer("nflog_bind_group \(options.group)") { nflog_bind_group(h, options.group) }
            } catch LinuxError.permissionDenied(let op, let e) {
                // nfnetlink_log answers EPERM both without CAP_NET_ADMIN and when another socket owns the group.
                if Capabilities.hasNetAdmin() { throw LinuxError.groupBusy(group: options.group) }
                throw LinuxError.permissionDenied(operation: op, errno: e)
            }
            group = g
            try Sys.call("nflog_set_mode") { nflog_set_mode(g, UInt8(NFULNL_COPY_PACKET), options.copyRange) }
            try Sys.call("nflog_set_flags") { nflog_set_flags(g, UInt16(NFULNL_CFG_F_SEQ)) }
            try Sys.call("nflog_set_qthresh") { nflog_set_qthresh(g, 1) }
            let context = Unmanaged.passUnretained(self).toOpaque()
            try Sys.call("nflog_callback_register") {
                nflog_callback_register(
                    g,
                    { _, nfmsg, data, context in
                        guard let data, let context else { return 0 }
                        let source = Unmanaged<NflogSource>.fromOpaque(context).takeUnretainedValue()
                        source.record(family: nfmsg?.pointee.nfgen_family ?? UInt8(AF_INET), data)
                        return 0
                    }, context)
            }
            let fd = nflog_fd(h)
            setReceiveBuffer(fd, bytes: options.receiveBufferBytes)
            return fd
        } catch {
            close()
            throw error
        }
    }

    func receive() -> ReceiveOutcome {
        guard let h = handle else { return .failed(EBADF) }
        let fd = nflog_fd(h)
        let r = Sys.attempt { recv(fd, buffer, bufferSize, Int32(MSG_DONTWAIT)) }
        switch r {
        case .failure(let e):
            if e == .resourceTemporarilyUnavailable || e == .wouldBlock { return .wouldBlock }
            if e == .noBufferSpace { return .overrun }
            return .failed(e.rawValue)
        case .success(let n):
            receivedAt = wallClock()
            pending.removeAll(keepingCapacity: true)
            _ = nflog_handle_packet(h, buffer.assumingMemoryBound(to: CChar.self), Int32(n))
            let events = pending
            state.update { $0.events += events.count }
            if !events.isEmpty { onBatch(events) }
            return .handled
        }
    }

    /// The libnetfilter_log callback: copies the record out and queues its event.
    func record(family: UInt8, _ data: OpaquePointer) {
        var r = NflogRecord(family: family)
        if let hdr = nflog_get_msg_packet_hdr(data) { r.hook = hdr.pointee.hook }
        if let p = nflog_get_prefix(data) { r.prefix = String(cString: p) }
        r.inIface = names.name(nflog_get_indev(data))
        r.outIface = names.name(nflog_get_outdev(data))
        r.physIn = names.name(nflog_get_physindev(data))
        r.physOut = names.name(nflog_get_physoutdev(data))
        let mark = nflog_get_nfmark(data) & ~options.ownMarkBits
        if mark != 0 { r.mark = mark }
        var id: UInt32 = 0
        if nflog_get_uid(data, &id) == 0 { r.uid = id }
        if nflog_get_gid(data, &id) == 0 { r.gid = id }
        var tv = timeval()
        if nflog_get_timestamp(data, &tv) == 0 { r.timestamp = Double(tv.tv_sec) + Double(tv.tv_usec) / 1e6 }
        if nflog_get_seq(data, &id) == 0 { r.sequence = id }
        var payload: UnsafeMutablePointer<CChar>?
        let length = nflog_get_payload(data, &payload)
        if length > 0, let payload {
            r.payload = Array(UnsafeRawBufferPointer(start: payload, count: Int(length)))
        }
        let hwLength = Int(nflog_get_msg_packet_hwhdrlen(data))
        if hwLength > 0, let hw = nflog_get_msg_packet_hwhdr(data) {
            r.hardwareHeader = Array(UnsafeRawBufferPointer(start: hw, count: hwLength))
            r.hardwareType = nflog_get_hwtype(data)
        }
        noteSequence(r.sequence)
        line += 1
        state.update { $0.messages += 1 }
        pending.append(r.event(line: line, receivedAt: receivedAt, keepPacketBytes: options.keepPacketBytes))
    }

    /// NFULA_SEQ counts every record the group logged: a gap is records the kernel dropped.
    private func noteSequence(_ seq: UInt32?) {
        guard let seq else { return }
        if let last = lastSequence {
            let gap = seq &- last &- 1
            if gap > 0 && gap < 1 << 31 { state.update { $0.lost += Int(gap) } }
        }
        lastSequence = seq
    }

    func close() {
        if let g = group { nflog_unbind_group(g) }
        group = nil
        if let h = handle { nflog_close(h) }
        handle = nil
    }
}
#endif
