/// Address families as the JSON contract names them.
public enum Family: String, Sendable, Hashable, CaseIterable {
    case ipv4, ipv6, arp, bridge
}

/// The netfilter hooks, in the names iptables uses.
public enum Hook: String, Sendable, Hashable, CaseIterable {
    case prerouting = "PREROUTING"
    case input = "INPUT"
    case forward = "FORWARD"
    case output = "OUTPUT"
    case postrouting = "POSTROUTING"
    /// The ebtables broute point (bridge family only).
    case brouting = "BROUTING"

    /// A number per hook, 0 to 5 in the order above: an index into tables kept per hook.
    @inlinable @inline(__always) var number: Int {
        switch self {
        case .prerouting: 0
        case .input: 1
        case .forward: 2
        case .output: 3
        case .postrouting: 4
        case .brouting: 5
        }
    }

    /// Maps a base chain name (`PREROUTING`, nft's `prerouting`) to its hook.
    public init?(chainName: String) {
        switch chainName {
        case "PREROUTING", "prerouting": self = .prerouting
        case "INPUT", "input": self = .input
        case "FORWARD", "forward": self = .forward
        case "OUTPUT", "output": self = .output
        case "POSTROUTING", "postrouting": self = .postrouting
        case "BROUTING", "brouting": self = .brouting
        default: return nil
        }
    }

    /// The same for a name, compared as bytes (every parsed event asks).
    public init?(chainName: Name) {
        let b = chainName.bytes
        guard b.count >= 5, b.count <= 11 else { return nil }
        for hook in Hook.allCases where hook.rawValue.utf8.count == b.count {
            var same = true
            var lower = true
            for (i, c) in hook.rawValue.utf8.enumerated() {
                if b[i] != c { same = false }
                if b[i] != c | 0x20 { lower = false }
                if !same && !lower { break }
            }
            if same || lower {
                self = hook
                return
            }
        }
        return nil
    }
}

/// What kind of chain entry produced a trace record.
public enum StepKind: String, Sendable, Hashable {
    /// A rule matched.
    case rule
    /// The packet left a chain (end of a user chain, or an explicit RETURN).
    case `return`
    /// A base chain's policy (or, in legacy TRACE, an unconditional ACCEPT/DROP in a base chain).
    case policy
    /// A LOG-target line: one record, chain unknown, carrying its user prefix.
    case log
}

/// A reference to a rule: its 1-based position (legacy TRACE) or its nft handle.
public enum RuleRef: Sendable, Hashable, CustomStringConvertible {
    case number(Int)
    case handle(UInt64)

    public var description: String {
        switch self {
        case .number(let n): return "rule \(n)"
        case .handle(let h): return "handle \(h)"
        }
    }
}

/// The verdict of one step, when the source reports it (nft trace, xtables-monitor).
public enum StepVerdict: Sendable, Hashable, CustomStringConvertible {
    case accept, drop, queue, stolen, `continue`, `return`, `break`
    case jump(Name)
    case goto(Name)
    /// A verdict this parser does not know, kept verbatim.
    case other(Name)

    public var description: String {
        switch self {
        case .accept: return "accept"
        case .drop: return "drop"
        case .queue: return "queue"
        case .stolen: return "stolen"
        case .continue: return "continue"
        case .return: return "return"
        case .break: return "break"
        case .jump(let c): return "jump \(c)"
        case .goto(let c): return "goto \(c)"
        case .other(let s): return s.string
        }
    }

    /// Parses `accept`, `jump X`, `ACCEPT`, `JUMP:X`, `GOTO:X`, ... in any case.
    public init(_ text: String) {
        let t = text.trimmingSpaces()
        let lower = t.lowercased()
        if lower.hasPrefix("jump") {
            self = .jump(Name(String(t.dropFirst(5)).trimmingSpaces()))
            return
        }
        if lower.hasPrefix("goto") {
            self = .goto(Name(String(t.dropFirst(5)).trimmingSpaces()))
            return
        }
        switch lower {
        case "accept": self = .accept
        case "drop": self = .drop
        case "continue": self = .continue
        case "return": self = .return
        case "stolen": self = .stolen
        case "break": self = .break
        default: self = lower.hasPrefix("queue") ? .queue : .other(Name(t))
        }
    }

    /// Whether this verdict ends the packet's walk through the current hook's table.
    public var isTerminal: Bool { Tag(self).isTerminal }
}

/// Where a record came from, so a user can go back to it.
public struct SourcePosition: Sendable, Hashable, CustomStringConvertible {
    /// File name as given, `-` for stdin, or `netlink` for live events.
    public var file: String {
        get { fileName.string }
        set { fileName = Name(newValue) }
    }
    public var fileName: Name
    /// Line number (1-based) in a file, or the netlink sequence number.
    public var line: Int

    public init(file: String, line: Int) {
        self.fileName = Name(file)
        self.line = line
    }

    @inlinable @inline(__always) public init(fileName: Name, line: Int) {
        self.fileName = fileName
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// Which printer or collector produced an event.
public enum EventOrigin: String, Sendable, Hashable {
    /// nf_log TRACE text (dmesg, journal, syslog, /dev/kmsg).
    case kernelTrace = "kernel-trace"
    /// A LOG-target line (nf_log_syslog) with a user prefix.
    case logTarget = "log"
    /// An ebtables `-j LOG` line.
    case ebtablesLog = "ebtables-log"
    /// `nft monitor trace` text.
    case nftMonitor = "nft-monitor"
    /// `xtables-monitor --trace` text.
    case xtablesMonitor = "xtables-monitor"
    /// A live netlink event (nft trace or nfnetlink_log).
    case netlink
}

/// Where an event's `time` came from.
public enum TimeBasis: String, Sendable, Hashable {
    /// The kernel stamped the record (a kernel-log timestamp, an nfnetlink_log timestamp).
    case kernel
    /// The record had no time of its own: the wall clock when pathtrace received it (nft trace messages,
    /// nfnetlink_log records without a timestamp). Steps received in one batch share it.
    case received
}

/// One trace record: a packet seen at one chain entry.
///
/// Stored as plain values with presence flags, names as `NameSlot`s and what few events have (packet
/// bytes, boxed names) in `rare`, so an ordinary event is 168 bytes with no reference counted field
/// but its header's and its own (nil) `Rare`: events and steps are copied several times between the
/// parser and the printer, and at 369 bytes with a dozen reference-holding fields those copies were a
/// tenth of the replay's instructions (issue 10, scripts/icount.sh). Absent fields hold zero, so the
/// synthesized `==` is presence-aware.
public struct TraceEvent: Sendable, Equatable {
    @usableFromInline var timeValue: Double = 0
    @usableFromInline var lineValue = 0
    @usableFromInline var ruleValue: UInt64 = 0
    @usableFromInline var rare = Rare<RareEventFields>()
    /// The header's fields when `hasHeader`; an empty header otherwise (so equality holds).
    ///
    /// `header` is this plus `hasHeader`, so hot paths read single fields in place
    /// (`event.headerValue.src`) instead of copying the whole optional header out first.
    public internal(set) var headerValue = PacketHeader()
    @usableFromInline var traceIDValue: UInt32 = 0
    @usableFromInline var fileSlot = NameSlot.empty
    @usableFromInline var tableSlot = NameSlot.empty
    @usableFromInline var chainSlot = NameSlot.empty
    @usableFromInline var ruleTextSlot = NameSlot.none
    @usableFromInline var inIfaceSlot = NameSlot.none
    @usableFromInline var outIfaceSlot = NameSlot.none
    @usableFromInline var physInSlot = NameSlot.none
    @usableFromInline var physOutSlot = NameSlot.none
    @usableFromInline var prefixSlot = NameSlot.none
    @usableFromInline var tableFamilySlot = NameSlot.none
    @usableFromInline var netnsSlot = NameSlot.none
    @usableFromInline var verdictSlot = NameSlot.none
    /// Whether `time` is the kernel's or only when pathtrace received the record.
    public var timeBasis: TimeBasis = .kernel
    public var origin: EventOrigin
    public var family: Family
    /// The hook, when the chain name or the source tells it; user chains leave it nil for the stitcher.
    public var hook: Hook?
    public var kind: StepKind
    /// 0: no rule, 1: `.number`, 2: `.handle` (the value in `ruleValue`).
    @usableFromInline var ruleTag: UInt8 = 0
    @usableFromInline var verdictTag = StepVerdict.Tag.none
    @usableFromInline var flags: Flags = []

    /// Seconds: the kernel timestamp (`[5121056.357116]`) or the netlink timestamp; nil when the source has none.
    @inlinable @inline(__always) public var time: Double? {
        get { flags.contains(.time) ? timeValue : nil }
        set {
            timeValue = newValue ?? 0
            flags.set(.time, newValue != nil)
        }
    }
    @inlinable @inline(__always) public var source: SourcePosition {
        get { SourcePosition(fileName: rare.name(fileSlot, field: Field.file) ?? .empty, line: lineValue) }
        set {
            fileSlot = rare.slot(newValue.fileName, field: Field.file, replacing: fileSlot)
            lineValue = newValue.line
        }
    }
    /// `source.line` alone, without making the file's `Name` (a renderer asks it of every step).
    @inlinable @inline(__always) public var sourceLine: Int { lineValue }
    @inlinable @inline(__always) public var table: String {
        get { tableName.string }
        set { tableName = Name(newValue) }
    }
    @inlinable @inline(__always) public var tableName: Name {
        get { rare.name(tableSlot, field: Field.table) ?? .empty }
        set { tableSlot = rare.slot(newValue, field: Field.table, replacing: tableSlot) }
    }
    @inlinable @inline(__always) public var chain: String {
        get { chainName.string }
        set { chainName = Name(newValue) }
    }
    @inlinable @inline(__always) public var chainName: Name {
        get { rare.name(chainSlot, field: Field.chain) ?? .empty }
        set { chainSlot = rare.slot(newValue, field: Field.chain, replacing: chainSlot) }
    }
    @inlinable @inline(__always) public var rule: RuleRef? {
        get {
            switch ruleTag {
            case 1: return .number(Int(truncatingIfNeeded: ruleValue))
            case 2: return .handle(ruleValue)
            default: return nil
            }
        }
        set {
            switch newValue {
            case .number(let n)?: (ruleTag, ruleValue) = (1, UInt64(truncatingIfNeeded: n))
            case .handle(let h)?: (ruleTag, ruleValue) = (2, h)
            case nil: (ruleTag, ruleValue) = (0, 0)
            }
        }
    }
    /// The rule as the source printed it (nft monitor, xtables-monitor) or as a ruleset resolved it.
    @inlinable @inline(__always) public var ruleText: String? {
        get { ruleTextName.string }
        set { ruleTextName = Name.of(newValue) }
    }
    @inlinable @inline(__always) public var ruleTextName: Name? {
        get { rare.name(ruleTextSlot, field: Field.ruleText) }
        set { ruleTextSlot = rare.slot(newValue, field: Field.ruleText, replacing: ruleTextSlot) }
    }
    @inlinable @inline(__always) public var verdict: StepVerdict? {
        get { StepVerdict(verdictTag, rare.name(verdictSlot, field: Field.verdict)) }
        set {
            verdictTag = StepVerdict.Tag(newValue)
            verdictSlot = rare.slot(newValue?.name, field: Field.verdict, replacing: verdictSlot)
        }
    }
    @inlinable @inline(__always) public var inIface: String? {
        get { inIfaceName.string }
        set { inIfaceName = Name.of(newValue) }
    }
    @inlinable @inline(__always) public var inIfaceName: Name? {
        get { rare.name(inIfaceSlot, field: Field.inIface) }
        set { inIfaceSlot = rare.slot(newValue, field: Field.inIface, replacing: inIfaceSlot) }
    }
    @inlinable @inline(__always) public var outIface: String? {
        get { outIfaceName.string }
        set { outIfaceName = Name.of(newValue) }
    }
    @inlinable @inline(__always) public var outIfaceName: Name? {
        get { rare.name(outIfaceSlot, field: Field.outIface) }
        set { outIfaceSlot = rare.slot(newValue, field: Field.outIface, replacing: outIfaceSlot) }
    }
    @inlinable @inline(__always) public var physIn: String? {
        get { physInName.string }
        set { physInName = Name.of(newValue) }
    }
    @inlinable @inline(__always) public var physInName: Name? {
        get { rare.name(physInSlot, field: Field.physIn) }
        set { physInSlot = rare.slot(newValue, field: Field.physIn, replacing: physInSlot) }
    }
    @inlinable @inline(__always) public var physOut: String? {
        get { physOutName.string }
        set { physOutName = Name.of(newValue) }
    }
    @inlinable @inline(__always) public var physOutName: Name? {
        get { rare.name(physOutSlot, field: Field.physOut) }
        set { physOutSlot = rare.slot(newValue, field: Field.physOut, replacing: physOutSlot) }
    }
    /// The packet as this record showed it; nil when the record carried no packet dump.
    public var header: PacketHeader? {
        @inlinable @inline(__always) get { hasHeader ? headerValue : nil }
        set {
            if let newValue {
                headerValue = newValue
                hasHeader = true
            } else {
                headerValue = PacketHeader()
                hasHeader = false
            }
        }
    }
    @inlinable @inline(__always) public internal(set) var hasHeader: Bool {
        get { flags.contains(.header) }
        set { flags.set(.header, newValue) }
    }
    /// The nft trace id (as nft prints it), only meaningful to group events inside one hook.
    @inlinable @inline(__always) public var traceID: UInt32? {
        get { flags.contains(.traceID) ? traceIDValue : nil }
        set {
            traceIDValue = newValue ?? 0
            flags.set(.traceID, newValue != nil)
        }
    }
    /// A LOG line's user prefix, verbatim.
    @inlinable @inline(__always) public var prefix: String? {
        get { prefixName.string }
        set { prefixName = Name.of(newValue) }
    }
    @inlinable @inline(__always) public var prefixName: Name? {
        get { rare.name(prefixSlot, field: Field.prefix) }
        set { prefixSlot = rare.slot(newValue, field: Field.prefix, replacing: prefixSlot) }
    }

    /// `prefixName != nil` and `ruleTextName != nil`, answered by the slot alone when it holds none (most
    /// events): the printers ask them of every step (~6 instructions each, issue 10, scripts/icount.sh).
    @inlinable @inline(__always) public var hasPrefix: Bool { prefixSlot != .none && prefixName != nil }
    @inlinable @inline(__always) public var hasRuleText: Bool { ruleTextSlot != .none && ruleTextName != nil }
    /// The nft table family word when the source names it (`ip`, `ip6`, `inet`, `bridge`, ...).
    @inlinable @inline(__always) public var tableFamily: String? {
        get { tableFamilyName.string }
        set { tableFamilyName = Name.of(newValue) }
    }
    @inlinable @inline(__always) public var tableFamilyName: Name? {
        get { rare.name(tableFamilySlot, field: Field.tableFamily) }
        set { tableFamilySlot = rare.slot(newValue, field: Field.tableFamily, replacing: tableFamilySlot) }
    }
    /// The network namespace the event was traced in, when a saved file or the source names it.
    @inlinable @inline(__always) public var netns: String? {
        get { netnsName.string }
        set { netnsName = Name.of(newValue) }
    }
    @inlinable @inline(__always) public var netnsName: Name? {
        get { rare.name(netnsSlot, field: Field.netns) }
        set { netnsSlot = rare.slot(newValue, field: Field.netns, replacing: netnsSlot) }
    }
    /// The packet from its network header on, as the kernel handed it over (nfnetlink_log's payload, nft
    /// trace's network and transport headers), at most `TraceEvent.keptPacketBytes`; nil for text sources.
    /// Kept only when asked for (`--pcap`): an event of a live trace otherwise drops the bytes once decoded.
    @inlinable @inline(__always) public var packetBytes: [UInt8]? {
        get { rare.isEmpty ? nil : rare.packetBytes }
        set { if !(rare.isEmpty && newValue == nil) { rare.packetBytes = newValue } }
    }

    /// Bytes of a packet an event keeps: a full Ethernet-MTU packet, so a capture can show (and check
    /// the checksum of) ordinary packets whole, while a 64 KiB GSO packet cannot swell every open walk.
    public static let keptPacketBytes = 1600

    /// The first record of a base chain's run, when the source marks it (`nft monitor trace` dumps the
    /// packet once per base chain): a chain of the same table that follows is another base chain, not
    /// a user chain it jumped to.
    @inlinable @inline(__always) public var startsChain: Bool {
        get { flags.contains(.startsChain) }
        set { flags.set(.startsChain, newValue) }
    }

    public init(
        source: SourcePosition, origin: EventOrigin, family: Family, table: String, chain: String, kind: StepKind
    ) {
        self.init(source: source, origin: origin, family: family, table: Name(table), chain: Name(chain), kind: kind)
    }

    public init(source: SourcePosition, origin: EventOrigin, family: Family, table: Name, chain: Name, kind: StepKind) {
        self.origin = origin
        self.family = family
        self.kind = kind
        self.hook = Hook(chainName: chain)
        self.source = source
        self.tableName = table
        self.chainName = chain
    }

    @usableFromInline struct Flags: OptionSet, Equatable, Sendable {
        @usableFromInline let rawValue: UInt8
        @inlinable @inline(__always) init(rawValue: UInt8) { self.rawValue = rawValue }
        @inlinable @inline(__always) static var time: Flags { Flags(rawValue: 1) }
        @inlinable @inline(__always) static var header: Flags { Flags(rawValue: 2) }
        @inlinable @inline(__always) static var traceID: Flags { Flags(rawValue: 4) }
        @inlinable @inline(__always) static var startsChain: Flags { Flags(rawValue: 8) }

        @inlinable @inline(__always) mutating func set(_ flag: Flags, _ on: Bool) {
            if on { insert(flag) } else { remove(flag) }
        }
    }

    /// The fields of the names, as `BoxedNames` knows them.
    @usableFromInline enum Field {
        @inlinable @inline(__always) static var file: UInt8 { 0 }
        @inlinable @inline(__always) static var table: UInt8 { 1 }
        @inlinable @inline(__always) static var chain: UInt8 { 2 }
        @inlinable @inline(__always) static var ruleText: UInt8 { 3 }
        @inlinable @inline(__always) static var verdict: UInt8 { 4 }
        @inlinable @inline(__always) static var inIface: UInt8 { 5 }
        @inlinable @inline(__always) static var outIface: UInt8 { 6 }
        @inlinable @inline(__always) static var physIn: UInt8 { 7 }
        @inlinable @inline(__always) static var physOut: UInt8 { 8 }
        @inlinable @inline(__always) static var prefix: UInt8 { 9 }
        @inlinable @inline(__always) static var tableFamily: UInt8 { 10 }
        @inlinable @inline(__always) static var netns: UInt8 { 11 }
        /// The verdict of the `WalkStep` that holds this event (not part of the event's `==`).
        @inlinable @inline(__always) static var stepVerdict: UInt8 { 12 }
    }
}

/// What few events have: `TraceEvent`'s rare fields.
@usableFromInline struct RareEventFields: RareFields {
    var packetBytes: [UInt8]?
    @usableFromInline var names = BoxedNames()

    @usableFromInline init() {}

    @usableFromInline var isEmpty: Bool { packetBytes == nil && names.isEmpty }

    /// The event's own fields: a step's boxed verdict name, kept here too, is the step's.
    @usableFromInline static func == (a: RareEventFields, b: RareEventFields) -> Bool {
        guard a.packetBytes == b.packetBytes else { return false }
        let own = { (entry: BoxedNames.Entry) in entry.field != TraceEvent.Field.stepVerdict }
        return a.names.entries.filter(own) == b.names.entries.filter(own)
    }
}

// Out of line: what the inlined accessors read when there is a box (only the box is passed).
extension Rare where Fields == RareEventFields {
    /// The slot of a new step's verdict name, dropping the name of a step the event was taken from.
    @usableFromInline mutating func stepSlot(_ name: Name?) -> NameSlot {
        if boxedName(TraceEvent.Field.stepVerdict) != nil { update { $0.names[TraceEvent.Field.stepVerdict] = nil } }
        return slot(name, field: TraceEvent.Field.stepVerdict, replacing: .none)
    }

    @usableFromInline var packetBytes: [UInt8]? {
        get { box?.fields.packetBytes }
        set { update { $0.packetBytes = newValue } }
    }
}

extension StepVerdict {
    /// A verdict's case without its name (`none` for no verdict), as events and steps store it.
    @usableFromInline enum Tag: UInt8, Sendable {
        case none, accept, drop, queue, stolen, `continue`, `return`, `break`, jump, goto, other

        @inlinable @inline(__always) init(_ verdict: StepVerdict?) {
            switch verdict {
            case nil: self = .none
            case .accept: self = .accept
            case .drop: self = .drop
            case .queue: self = .queue
            case .stolen: self = .stolen
            case .continue: self = .continue
            case .return: self = .return
            case .break: self = .break
            case .jump: self = .jump
            case .goto: self = .goto
            case .other: self = .other
            }
        }

        /// `StepVerdict.isTerminal`, asked of the tag a step stores (no verdict made to ask it).
        @inlinable @inline(__always) var isTerminal: Bool {
            self == .accept || self == .drop || self == .queue || self == .stolen
        }
    }

    /// The verdict of a tag and, for `jump`, `goto` and `other`, its name.
    @inlinable @inline(__always) init?(_ tag: Tag, _ name: Name?) {
        switch tag {
        case .none: return nil
        case .accept: self = .accept
        case .drop: self = .drop
        case .queue: self = .queue
        case .stolen: self = .stolen
        case .continue: self = .continue
        case .return: self = .return
        case .break: self = .break
        case .jump: self = .jump(name ?? .empty)
        case .goto: self = .goto(name ?? .empty)
        case .other: self = .other(name ?? .empty)
        }
    }

    /// The chain or text a verdict carries.
    @inlinable @inline(__always) var name: Name? {
        switch self {
        case .jump(let n), .goto(let n), .other(let n): return n
        default: return nil
        }
    }
}

extension String {
    /// Drops leading and trailing spaces and tabs.
    public func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" || f == "\r" || f == "\n" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" || l == "\r" || l == "\n" { s = s.dropLast() }
        return String(s)
    }
}
