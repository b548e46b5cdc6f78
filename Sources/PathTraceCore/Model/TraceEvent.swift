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
    public var isTerminal: Bool {
        switch self {
        case .accept, .drop, .queue, .stolen: return true
        default: return false
        }
    }
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

    public init(fileName: Name, line: Int) {
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
public struct TraceEvent: Sendable, Equatable {
    /// Seconds: the kernel timestamp (`[5121056.357116]`) or the netlink timestamp; nil when the source has none.
    public var time: Double?
    /// Whether `time` is the kernel's or only when pathtrace received the record.
    public var timeBasis: TimeBasis = .kernel
    public var source: SourcePosition
    public var origin: EventOrigin
    public var family: Family
    /// The hook, when the chain name or the source tells it; user chains leave it nil for the stitcher.
    public var hook: Hook?
    public var table: String {
        get { tableName.string }
        set { tableName = Name(newValue) }
    }
    public var tableName: Name
    public var chain: String {
        get { chainName.string }
        set { chainName = Name(newValue) }
    }
    public var chainName: Name
    public var kind: StepKind
    public var rule: RuleRef?
    /// The rule as the source printed it (nft monitor, xtables-monitor) or as a ruleset resolved it.
    public var ruleText: String? {
        get { ruleTextName.string }
        set { ruleTextName = Name.of(newValue) }
    }
    public var ruleTextName: Name?
    public var verdict: StepVerdict?
    public var inIface: String? {
        get { inIfaceName.string }
        set { inIfaceName = Name.of(newValue) }
    }
    public var inIfaceName: Name?
    public var outIface: String? {
        get { outIfaceName.string }
        set { outIfaceName = Name.of(newValue) }
    }
    public var outIfaceName: Name?
    public var physIn: String? {
        get { physInName.string }
        set { physInName = Name.of(newValue) }
    }
    public var physInName: Name?
    public var physOut: String? {
        get { physOutName.string }
        set { physOutName = Name.of(newValue) }
    }
    public var physOutName: Name?
    /// The packet as this record showed it; nil when the record carried no packet dump.
    ///
    /// Stored as `headerValue` plus `hasHeader`, so hot paths read single fields in place
    /// (`event.headerValue.src`) instead of copying the whole optional header out first.
    public var header: PacketHeader? {
        get { hasHeader ? headerValue : nil }
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
    /// The header's fields when `hasHeader`; an empty header otherwise (so equality holds).
    public internal(set) var headerValue = PacketHeader()
    public internal(set) var hasHeader = false
    /// The nft trace id (as nft prints it), only meaningful to group events inside one hook.
    public var traceID: UInt32?
    /// A LOG line's user prefix, verbatim.
    public var prefix: String? {
        get { prefixName.string }
        set { prefixName = Name.of(newValue) }
    }
    public var prefixName: Name?
    /// The nft table family word when the source names it (`ip`, `ip6`, `inet`, `bridge`, ...).
    public var tableFamily: String? {
        get { tableFamilyName.string }
        set { tableFamilyName = Name.of(newValue) }
    }
    public var tableFamilyName: Name?
    /// The network namespace the event was traced in, when a saved file or the source names it.
    public var netns: String? {
        get { netnsName.string }
        set { netnsName = Name.of(newValue) }
    }
    public var netnsName: Name?
    /// The packet from its network header on, as the kernel handed it over (nfnetlink_log's payload, nft
    /// trace's network and transport headers), at most `TraceEvent.keptPacketBytes`; nil for text sources.
    /// Kept only when asked for (`--pcap`): an event of a live trace otherwise drops the bytes once decoded.
    public var packetBytes: [UInt8]?

    /// Bytes of a packet an event keeps: a full Ethernet-MTU packet, so a capture can show (and check
    /// the checksum of) ordinary packets whole, while a 64 KiB GSO packet cannot swell every open walk.
    public static let keptPacketBytes = 1600

    /// The first record of a base chain's run, when the source marks it (`nft monitor trace` dumps the
    /// packet once per base chain): a chain of the same table that follows is another base chain, not
    /// a user chain it jumped to.
    public var startsChain = false

    public init(
        source: SourcePosition, origin: EventOrigin, family: Family, table: String, chain: String, kind: StepKind
    ) {
        self.source = source
        self.origin = origin
        self.family = family
        self.tableName = Name(table)
        self.chainName = Name(chain)
        self.kind = kind
        self.hook = Hook(chainName: chain)
    }

    public init(source: SourcePosition, origin: EventOrigin, family: Family, table: Name, chain: Name, kind: StepKind) {
        self.source = source
        self.origin = origin
        self.family = family
        self.tableName = table
        self.chainName = chain
        self.kind = kind
        self.hook = Hook(chainName: chain)
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
