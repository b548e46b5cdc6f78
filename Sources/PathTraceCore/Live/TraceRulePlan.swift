/// How live tracing marks packets: nft `meta nftrace`, legacy `-j TRACE` (read over nfnetlink_log, or
/// from the kernel log with `kmsg`), `NFLOG` at the head of every chain, or `mixed`: nft's marking rule,
/// whose trace flag makes nf_tables and legacy x_tables report the packet at once (two collectors).
public enum TraceBackend: String, Sendable, Codable, CaseIterable {
    case nft, legacy, nflog, kmsg, mixed

    /// Whether the backend installs iptables-legacy `-j TRACE` rules.
    public var usesLegacyTrace: Bool { self == .legacy || self == .kmsg }

    /// The logger `net.netfilter.nf_log.<pf>` names while the session runs: where TRACE lines go.
    public func traceLogger(_ family: TraceFamily) -> String? {
        switch self {
        case .legacy, .mixed: return "nfnetlink_log"
        case .kmsg: return family == .ipv4 ? "nf_log_ipv4" : "nf_log_ipv6"
        case .nft, .nflog: return nil
        }
    }
}

/// The address families a trace session covers.
public enum TraceFamily: String, Sendable, Codable, CaseIterable, Comparable {
    case ipv4, ipv6

    public static func < (a: TraceFamily, b: TraceFamily) -> Bool { a == .ipv4 && b == .ipv6 }

    /// The nf_log sysctl slot of this family: 2 (PF_INET) or 10 (PF_INET6).
    public var protocolFamily: Int { self == .ipv4 ? 2 : 10 }
}

/// How many trace marks per second a rule may set; 0 means no limit.
public struct TraceRate: Sendable, Equatable, CustomStringConvertible {
    public let perSecond: Int

    /// The default of `--rate`: 100 packets per second.
    public static let `default` = TraceRate(unchecked: 100)
    /// The largest rate the xt_limit and nft limit matches accept without complaint.
    public static let maximum = 10_000

    private init(unchecked: Int) { perSecond = unchecked }

    public init?(perSecond: Int) {
        guard perSecond >= 0, perSecond <= TraceRate.maximum else { return nil }
        self.perSecond = perSecond
    }

    /// Parses `100`, `100/s`, `100/sec` or `100/second`; `0` means unlimited.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = parts.first, !first.isEmpty, first.count <= 5,
            first.allSatisfy({ $0.isASCII && $0.isNumber }),
            let n = Int(first)
        else { return nil }
        if parts.count == 2, !["s", "sec", "second"].contains(String(parts[1])) { return nil }
        self.init(perSecond: n)
    }

    public var isUnlimited: Bool { perSecond == 0 }

    public var description: String { isUnlimited ? "unlimited" : "\(perSecond)/second" }
}

/// A session's name in rule comments, table names and its state file: 1–16 of `a-z 0-9`.
public struct SessionID: Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String

    public init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 16,
            text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) })
        else { return nil }
        rawValue = text
    }

    /// Eight random hex digits.
    public static func random() -> SessionID {
        let value = UInt32.random(in: 0...UInt32.max)
        let hex = String(value, radix: 16)
        return SessionID(unchecked: String(repeating: "0", count: 8 - hex.count) + hex)
    }

    private init(unchecked: String) { rawValue = unchecked }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let id = SessionID(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad id \(text)"))
        }
        self = id
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public var description: String { rawValue }

    /// The comment every iptables rule of the session carries: `pathtrace:<id>`.
    public var ruleComment: String { "pathtrace:\(rawValue)" }
    /// The nft table the session owns: `pathtrace_<id>` in family inet.
    public var nftTable: String { "pathtrace_\(rawValue)" }
}

/// A command as an argument vector, with the text to feed on standard input if any.
public struct PlannedCommand: Sendable, Equatable, Codable, CustomStringConvertible {
    public var argv: [String]
    public var stdin: String?

    public init(_ argv: [String], stdin: String? = nil) {
        self.argv = argv
        self.stdin = stdin
    }

    /// The argv for display only (never for a shell): elements with spaces are quoted.
    public var description: String {
        argv.map { $0.contains(" ") || $0.isEmpty ? "'\($0)'" : $0 }.joined(separator: " ")
    }
}

/// One rule (or the nft table) a session adds, with the exact command that removes it again.
public struct PlannedRule: Sendable, Equatable, Codable {
    public var family: TraceFamily?
    /// The iptables table, or the nft table name.
    public var table: String
    /// The chain it goes into, or nil for an nft table (which holds its own chains).
    public var chain: String?
    public var install: PlannedCommand
    public var remove: PlannedCommand
    /// Succeeds while the rule is still present; lets cleanup tell "already gone" from a real failure.
    public var check: PlannedCommand

    /// A short name such as `ipv4 raw:PREROUTING` or `nft inet pathtrace_1a2b`.
    public var label: String {
        if let chain { return "\(family?.rawValue ?? "inet") \(table):\(chain)" }
        return "nft inet \(table)"
    }
}

/// A sysctl the session sets for as long as it runs, e.g. `net.netfilter.nf_log.2 = nfnetlink_log`.
public struct SysctlSetting: Sendable, Equatable, Codable {
    /// Dotted name, `net.netfilter.nf_log.2`.
    public var key: String
    public var value: String

    public init(key: String, value: String) {
        self.key = key
        self.value = value
    }

    /// `/proc/sys/net/netfilter/nf_log/2`.
    public var path: String { "/proc/sys/" + key.split(separator: ".").joined(separator: "/") }

    /// Whether a value read from or written to a logger sysctl is a plain word (`NONE`, `nf_log_ipv4`).
    public static func isPlainValue(_ value: String) -> Bool {
        !value.isEmpty && value.utf8.count <= 64
            && value.utf8.allSatisfy {
                ($0 >= 48 && $0 <= 57) || ($0 >= 65 && $0 <= 90) || ($0 >= 97 && $0 <= 122) || $0 == 95
            }
    }
}

/// A chain found in an `iptables-save` listing, a place for an NFLOG rule.
public struct ChainRef: Sendable, Hashable, Codable {
    public var family: TraceFamily
    public var table: String
    public var chain: String
    public var isBuiltin: Bool

    public init(family: TraceFamily, table: String, chain: String, isBuiltin: Bool) {
        self.family = family
        self.table = table
        self.chain = chain
        self.isBuiltin = isBuiltin
    }

    /// iptables table names: lower-case letters, at most 31.
    public static func isValidTable(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.count <= 31 && name.utf8.allSatisfy { $0 >= 97 && $0 <= 122 }
    }

    /// iptables chain names: 1–28 printable bytes without spaces, not starting with `-` or `!`.
    public static func isValidChain(_ name: String) -> Bool {
        guard let first = name.utf8.first, first != UInt8(ascii: "-"), first != UInt8(ascii: "!") else { return false }
        return name.utf8.count <= 28 && name.utf8.allSatisfy { $0 > 32 && $0 < 127 && $0 != UInt8(ascii: "\"") }
    }

    /// The tables and chains of an `iptables-save` / `ip6tables-save` listing, in listing order.
    public static func parseSave(_ text: String, family: TraceFamily) throws(TraceRulePlanError) -> [ChainRef] {
        var table: String?
        var out: [ChainRef] = []
        for raw in text.split(separator: "\n", omittingEmptySubsequences: true) {
            var line = raw
            while let c = line.first, c == " " || c == "\t" { line = line.dropFirst() }
            while let c = line.last, c == " " || c == "\t" || c == "\r" { line = line.dropLast() }
            if line.hasPrefix("*") {
                let name = String(line.dropFirst())
                guard isValidTable(name) else { throw .invalidTable(name) }
                table = name
            } else if line.hasPrefix(":"), let table {
                let fields = line.dropFirst().split(separator: " ", omittingEmptySubsequences: true)
                guard fields.count >= 2 else { continue }
                let name = String(fields[0])
                guard isValidChain(name) else { throw .invalidChain(name) }
                out.append(ChainRef(family: family, table: table, chain: name, isBuiltin: fields[1] != "-"))
            } else if line == "COMMIT" {
                table = nil
            }
        }
        return out
    }
}

/// Why a plan cannot be made; the values were validated, so these are contradictions or unusable names.
public enum TraceRulePlanError: Error, Equatable, CustomStringConvertible {
    case invalidInterface(String)
    /// The filter and the requested families leave nothing to trace (e.g. `-6 --src 10.0.0.0/8`).
    case noFamilyLeft(String)
    /// `--sport`/`--dport` with a protocol that has no ports.
    case portsNeedTCPOrUDP(proto: UInt8)
    case unsupportedProtocol(UInt8)
    case invalidTable(String)
    case invalidChain(String)
    /// The nflog backend needs the chains of the ruleset, and none were given for the families traced.
    case noChains
    case invalidNflogGroup(UInt16)

    public var description: String {
        switch self {
        case .invalidInterface(let n): return "--iface: '\(n)' is not an interface name"
        case .noFamilyLeft(let why): return "nothing to trace: \(why)"
        case .portsNeedTCPOrUDP(let p): return "--sport/--dport need --proto tcp or udp, not \(IPProtocol.name(p))"
        case .unsupportedProtocol(let p): return "protocol \(p) is not supported for live tracing"
        case .invalidTable(let t): return "unusable table name '\(t)'"
        case .invalidChain(let c): return "unusable chain name '\(c)'"
        case .noChains: return "no chains found to put NFLOG rules in"
        case .invalidNflogGroup(let g): return "NFLOG group \(g) is reserved for TRACE; use 1-65535"
        }
    }
}

/// The exact commands that install and remove a session's trace rules; pure, computed from a validated filter.
public struct TraceRulePlan: Sendable, Equatable {
    public var session: SessionID
    public var backend: TraceBackend
    /// The families left after intersecting the request with what the filter can match.
    public var families: [TraceFamily]
    /// Set before the first rule, restored after the last rule is removed.
    public var sysctls: [SysctlSetting]
    /// In install order; remove in reverse.
    public var rules: [PlannedRule]

    /// The raw-table priority minus one: before conntrack and any raw chain.
    public static let nftPriority = -301

    /// Builds the plan. `chains` (from `ChainRef.parseSave`) is needed by `nflog` only.
    public static func make(
        filter: WalkFilter, backend: TraceBackend, rate: TraceRate = .default, session: SessionID,
        families: [TraceFamily] = TraceFamily.allCases, nflogGroup: UInt16 = 1, chains: [ChainRef] = [],
        replies: Bool = false
    ) throws(TraceRulePlanError) -> TraceRulePlan {
        let spec = try MatchSpec(filter: filter, families: families)
        // With `replies`, the reverse direction is traced too: a reply shows what conntrack's NAT did.
        let specs = replies && spec.reversed != spec ? [spec, spec.reversed] : [spec]
        var plan = TraceRulePlan(session: session, backend: backend, families: spec.families, sysctls: [], rules: [])
        switch backend {
        case .nft:
            plan.rules = [nftTableRule(specs: specs, rate: rate, session: session)]
        case .mixed:
            // The nft table marks the packet; legacy tables print TRACE for it through nfnetlink_log.
            plan.sysctls = loggerSysctls(backend: backend, families: spec.families)
            plan.rules = [nftTableRule(specs: specs, rate: rate, session: session)]
        case .legacy, .kmsg:
            plan.sysctls = loggerSysctls(backend: backend, families: spec.families)
            for family in spec.families {
                for chain in ["PREROUTING", "OUTPUT"] {
                    for spec in specs {
                        for proto in spec.protocols(for: family) {
                            let match = spec.iptablesMatch(
                                family: family, proto: proto, direction: chain == "OUTPUT" ? .out : .in)
                            plan.rules.append(
                                iptablesRule(
                                    family: family, table: "raw", chain: chain, position: nil,
                                    match: match + tagAndLimit(session: session, rate: rate), target: ["-j", "TRACE"]))
                        }
                    }
                }
            }
        case .nflog:
            plan.rules = try nflogRules(
                specs: specs, families: spec.families, rate: rate, session: session, group: nflogGroup, chains: chains)
        }
        return plan
    }

    /// `net.netfilter.nf_log.<pf>` naming the backend's logger, for each family that has one.
    static func loggerSysctls(backend: TraceBackend, families: [TraceFamily]) -> [SysctlSetting] {
        families.compactMap { family in
            backend.traceLogger(family).map {
                SysctlSetting(key: "net.netfilter.nf_log.\(family.protocolFamily)", value: $0)
            }
        }
    }

    /// How many rules the plan puts at the head of a chain: TRACE rule numbers there shift by this much.
    public func insertedCount(family: TraceFamily, table: String, chain: String) -> Int {
        rules.filter { $0.family == family && $0.table == table && $0.chain == chain }.count
    }

    /// The binary that lists or edits the iptables ruleset of a family.
    public static func iptablesBinary(_ family: TraceFamily) -> String {
        family == .ipv4 ? "iptables-legacy" : "ip6tables-legacy"
    }

    /// The binary that lists the iptables ruleset of a family, for nflog chain discovery.
    public static func iptablesSaveBinary(_ family: TraceFamily) -> String {
        family == .ipv4 ? "iptables-legacy-save" : "ip6tables-legacy-save"
    }

    static func tagAndLimit(session: SessionID, rate: TraceRate) -> [String] {
        var a = ["-m", "comment", "--comment", session.ruleComment]
        if !rate.isUnlimited { a += ["-m", "limit", "--limit", "\(rate.perSecond)/second"] }
        return a
    }

    static func iptablesRule(
        family: TraceFamily, table: String, chain: String, position: Int?, match: [String], target: [String]
    ) -> PlannedRule {
        let bin = iptablesBinary(family)
        let spec = match + target
        var insert = [bin, "-w", "-t", table, "-I", chain]
        if let position { insert.append(String(position)) }
        return PlannedRule(
            family: family, table: table, chain: chain,
            install: PlannedCommand(insert + spec),
            remove: PlannedCommand([bin, "-w", "-t", table, "-D", chain] + spec),
            check: PlannedCommand([bin, "-w", "-t", table, "-C", chain] + spec))
    }

    static func nftTableRule(specs: [MatchSpec], rate: TraceRate, session: SessionID) -> PlannedRule {
        let spec = specs[0]
        var text = "table inet \(session.nftTable) {\n"
        for (chain, direction) in [("prerouting", MatchSpec.Direction.in), ("output", .out)] {
            text += "\tchain \(chain) {\n"
            text += "\t\ttype filter hook \(chain) priority \(nftPriority); policy accept;\n"
            for family in spec.families.count == 2 ? [nil] : spec.families.map(Optional.some) {
                for match in specs {
                    var statement = match.nftMatch(family: family, direction: direction)
                    if !rate.isUnlimited { statement.append("limit rate \(rate.perSecond)/second") }
                    statement.append("meta nftrace set 1")
                    text += "\t\t" + statement.joined(separator: " ") + "\n"
                }
            }
            text += "\t}\n"
        }
        text += "}\n"
        return PlannedRule(
            family: nil, table: session.nftTable, chain: nil,
            install: PlannedCommand(["nft", "-f", "-"], stdin: text),
            remove: PlannedCommand(["nft", "delete", "table", "inet", session.nftTable]),
            check: PlannedCommand(["nft", "list", "table", "inet", session.nftTable]))
    }
}

/// The filter, reduced to what rules can match, with every value rendered from its validated type.
struct MatchSpec: Equatable {
    enum Direction { case `in`, out, none }

    var families: [TraceFamily]
    var proto: UInt8?
    var src: IPNetwork?
    var dst: IPNetwork?
    var sport: PortRange?
    var dport: PortRange?
    var iface: String?

    init(filter: WalkFilter, families requested: [TraceFamily]) throws(TraceRulePlanError) {
        var fams = Set(requested)
        var reasons: [String] = []
        func restrict(_ f: TraceFamily, _ why: String) {
            fams = fams.intersection([f])
            reasons.append(why)
        }
        if let v = filter.ipVersion { restrict(v == 6 ? .ipv6 : .ipv4, "-\(v)") }
        if let s = filter.src { restrict(s.address.isV6 ? .ipv6 : .ipv4, "--src \(s)") }
        if let d = filter.dst { restrict(d.address.isV6 ? .ipv6 : .ipv4, "--dst \(d)") }
        if let p = filter.proto {
            switch p {
            case IPProtocol.tcp, IPProtocol.udp: break
            case IPProtocol.icmp: restrict(.ipv4, "--proto icmp")
            case IPProtocol.icmpv6: restrict(.ipv6, "--proto icmpv6")
            default: throw .unsupportedProtocol(p)
            }
            if filter.sport != nil || filter.dport != nil, p != IPProtocol.tcp, p != IPProtocol.udp {
                throw .portsNeedTCPOrUDP(proto: p)
            }
        }
        if let i = filter.iface, !InterfaceName.isValid(i) { throw .invalidInterface(i) }
        guard !fams.isEmpty else {
            let asked = requested.map(\.rawValue).joined(separator: ", ")
            throw .noFamilyLeft(
                (reasons.isEmpty ? "no family requested" : reasons.joined(separator: " and ")) + " (families: \(asked))"
            )
        }
        families = fams.sorted()
        proto = filter.proto
        src = filter.src
        dst = filter.dst
        sport = filter.sport
        dport = filter.dport
        iface = filter.iface
    }

    var hasPorts: Bool { sport != nil || dport != nil }

    /// The same flow seen from the other end; the interface is left to the walk filter.
    var reversed: MatchSpec {
        var r = self
        (r.src, r.dst) = (dst, src)
        (r.sport, r.dport) = (dport, sport)
        r.iface = nil
        return r
    }

    /// One entry per rule to emit: the protocol, or nil for any. Ports without a protocol mean TCP and UDP.
    func protocols(for family: TraceFamily) -> [UInt8?] {
        if let proto { return [proto] }
        return hasPorts ? [IPProtocol.tcp, IPProtocol.udp] : [nil]
    }

    static func iptablesProtocolName(_ p: UInt8) -> String {
        switch p {
        case IPProtocol.tcp: return "tcp"
        case IPProtocol.udp: return "udp"
        case IPProtocol.icmp: return "icmp"
        case IPProtocol.icmpv6: return "ipv6-icmp"
        default: return String(p)
        }
    }

    func iptablesMatch(family: TraceFamily, proto: UInt8?, direction: Direction) -> [String] {
        var a: [String] = []
        if let proto { a += ["-p", MatchSpec.iptablesProtocolName(proto)] }
        if let src { a += ["-s", MatchSpec.networkText(src)] }
        if let dst { a += ["-d", MatchSpec.networkText(dst)] }
        if let iface {
            switch direction {
            case .in: a += ["-i", iface]
            case .out: a += ["-o", iface]
            case .none: break
            }
        }
        if hasPorts, let proto {
            a += ["-m", MatchSpec.iptablesProtocolName(proto)]
            if let sport { a += ["--sport", sport.description] }
            if let dport { a += ["--dport", dport.description] }
        }
        return a
    }

    func nftMatch(family: TraceFamily?, direction: Direction) -> [String] {
        var a: [String] = []
        if let family, src == nil, dst == nil { a.append("meta nfproto \(family.rawValue)") }
        if let src { a.append("\(src.address.isV6 ? "ip6" : "ip") saddr \(MatchSpec.networkText(src))") }
        if let dst { a.append("\(dst.address.isV6 ? "ip6" : "ip") daddr \(MatchSpec.networkText(dst))") }
        if let proto {
            a.append("meta l4proto \(MatchSpec.iptablesProtocolName(proto))")
        } else if hasPorts {
            a.append("meta l4proto { tcp, udp }")
        }
        func range(_ r: PortRange) -> String { r.lower == r.upper ? "\(r.lower)" : "\(r.lower)-\(r.upper)" }
        if let sport { a.append("th sport \(range(sport))") }
        if let dport { a.append("th dport \(range(dport))") }
        if let iface {
            // The name was checked by InterfaceName.isValid: letters, digits and . - _ @ only.
            switch direction {
            case .in: a.append("iifname \"\(iface)\"")
            case .out: a.append("oifname \"\(iface)\"")
            case .none: break
            }
        }
        return a
    }

    /// The network address (host bits cleared) and prefix, e.g. `10.0.0.0/8` for `10.1.2.3/8`.
    static func networkText(_ n: IPNetwork) -> String {
        let a = n.address
        let masked: IPAddress
        if a.isV6 {
            let hiBits = min(n.prefix, 64)
            let loBits = max(n.prefix - 64, 0)
            let hm: UInt64 = hiBits == 0 ? 0 : (hiBits >= 64 ? .max : ~(UInt64.max >> UInt64(hiBits)))
            let lm: UInt64 = loBits == 0 ? 0 : (loBits >= 64 ? .max : ~(UInt64.max >> UInt64(loBits)))
            masked = IPAddress(v6: a.high & hm, a.low & lm)
        } else {
            let mask: UInt32 = n.prefix == 0 ? 0 : (n.prefix >= 32 ? .max : ~(UInt32.max >> UInt32(n.prefix)))
            masked = IPAddress(v4: a.v4 & mask)
        }
        return "\(masked)/\(n.prefix)"
    }
}
