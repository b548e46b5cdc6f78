/// Where the replies of a translated flow come from: for a DNAT or REDIRECT, the translated address and
/// port (`--dport 8080` published to 172.17.0.2:80 answers from 172.17.0.2:80), which the reverse of the
/// user's filter does not match.
public struct NatReplySource: Sendable, Hashable, CustomStringConvertible {
    public var family: TraceFamily
    public var proto: UInt8
    public var address: IPAddress
    /// nil when the translation kept no port (a protocol without ports, or a bare-address DNAT of ICMP).
    public var port: UInt16?
    public var type: NatType

    public init(family: TraceFamily, proto: UInt8, address: IPAddress, port: UInt16?, type: NatType) {
        self.family = family
        self.proto = proto
        self.address = address
        self.port = port
        self.type = type
    }

    /// The first DNAT or REDIRECT of a walk's own direction whose result is known, with its flow's protocol;
    /// nil for a walk without one (or a reply, whose translations are conntrack's reverse ones).
    public init?(walk: PacketWalk) {
        guard walk.replyTo == nil, let proto = walk.firstHeader?.proto else { return nil }
        for nat in walk.nat where nat.direction == "original" && nat.field == "dst" {
            guard nat.type == .dnat || nat.type == .redirect, let end = nat.afterEndpoint, end.port != 0
            else { continue }
            self.init(
                family: end.address.isV6 ? .ipv6 : .ipv4, proto: proto, address: end.address, port: end.port,
                type: nat.type)
            return
        }
        return nil
    }

    /// `tcp from 172.17.0.2:80`.
    public var description: String {
        "\(IPProtocol.name(proto)) from \(Endpoint(address: address, port: port))"
    }

    /// The flow the replies make, as a filter: protocol, source address and source port.
    public var filter: WalkFilter {
        var f = WalkFilter()
        f.proto = proto
        f.src = IPNetwork("\(address)/\(address.isV6 ? 128 : 32)")
        if let port { f.sport = PortRange(String(port)) }
        return f
    }

    /// Whether a walk is such a reply: the packet as it entered came from the translated end.
    public func isReply(_ walk: PacketWalk) -> Bool {
        guard let h = walk.firstHeader else { return false }
        return h.proto == proto && h.src == address && (port == nil || h.sport == port)
    }
}

extension TraceRulePlan {
    /// The extra rules that trace the replies from `source`, tagged as the plan's own rules are (the nft
    /// backend: two chains `reply<index>_prerouting`/`_output` in the session's table; the iptables
    /// backends: rules with the session's comment), so the teardown and `pathtrace cleanup` remove them.
    /// The nflog backend: its selecting rules for the translated end (the connection mark brings replies
    /// the bit only after conntrack; these select them where they enter).
    public func replyRules(
        from source: NatReplySource, index: Int, rate: TraceRate = .default
    ) throws(TraceRulePlanError) -> [PlannedRule] {
        guard families.contains(source.family) else {
            throw .noFamilyLeft("the reply of \(source) is \(source.family.rawValue), which is not traced")
        }
        switch backend {
        case .nflog:
            // A selected connection's replies carry the bit already, but only from the first chain after
            // conntrack: selecting them where the plan selects (raw, when loaded) logs their start too.
            let spec = try MatchSpec(filter: source.filter, families: [source.family])
            let tag = ["-m", "comment", "--comment", session.ruleComment]
            let limit =
                rate.isUnlimited
                ? []
                : ["-m", "limit", "--limit", "\(rate.perSecond)/second", "--limit-burst", "\(max(5, rate.perSecond))"]
            let selecting = rules.filter {
                $0.family == source.family && $0.install.argv.suffix(3) == ["MARK", "--set-xmark", Self.markMatch]
                    && !$0.install.argv.contains("connmark")
            }
            var seen = Set<String>()
            return selecting.compactMap { rule -> PlannedRule? in
                guard let chain = rule.chain, seen.insert("\(rule.table):\(chain)").inserted else { return nil }
                var direction = MatchSpec.Direction.none
                if ["PREROUTING", "INPUT"].contains(chain) { direction = .in }
                if chain == "OUTPUT" { direction = .out }
                let match = spec.iptablesMatch(family: source.family, proto: source.proto, direction: direction)
                return TraceRulePlan.iptablesRule(
                    family: source.family, table: rule.table, chain: chain, position: 1, match: match + tag + limit,
                    target: ["-j", "MARK", "--set-xmark", Self.markMatch])
            }
        case .legacy, .kmsg:
            return try TraceRulePlan.make(
                filter: source.filter, backend: backend, rate: rate, session: session, families: [source.family]
            ).rules
        case .nft, .mixed:
            let spec = try MatchSpec(filter: source.filter, families: [source.family])
            return nftTraceChains(named: "reply\(index)", matching: [spec], family: source.family, rate: rate)
        }
    }
}

extension NatReplySource {
    /// The translated flow as it goes on past the translating namespace: to the translated address and
    /// port, which the user's filter (`--dport 8080`) no longer matches once DNAT made it port 80.
    public var downstreamFilter: WalkFilter {
        var f = WalkFilter()
        f.proto = proto
        f.dst = IPNetwork("\(address)/\(address.isV6 ? 128 : 32)")
        if let port { f.dport = PortRange(String(port)) }
        return f
    }

    /// Whether a walk belongs to the translated flow: the packet as it entered went to the translated
    /// end, or came from it (a reply).
    public func isDownstream(_ walk: PacketWalk) -> Bool {
        guard let h = walk.firstHeader else { return false }
        return isReply(walk) || (h.proto == proto && h.dst == address && (port == nil || h.dport == port))
    }
}

extension TraceRulePlan {
    /// The extra rules a namespace behind a translation needs to trace the translated flow both ways,
    /// tagged as the plan's own rules are (nft: two chains `follow<index>_prerouting`/`_output` in the
    /// session's table; legacy TRACE: rules with the session's comment). The nflog backend selects by a
    /// mark set where the packet entered the first namespace, which a packet does not carry into the next.
    public func downstreamRules(
        to source: NatReplySource, index: Int, rate: TraceRate = .default
    ) throws(TraceRulePlanError) -> [PlannedRule] {
        guard families.contains(source.family) else {
            throw .noFamilyLeft("the translated flow \(source) is \(source.family.rawValue), which is not traced")
        }
        switch backend {
        case .nflog:
            return []
        case .legacy, .kmsg:
            return try TraceRulePlan.make(
                filter: source.downstreamFilter, backend: backend, rate: rate, session: session,
                families: [source.family], replies: true
            ).rules
        case .nft, .mixed:
            let forward = try MatchSpec(filter: source.downstreamFilter, families: [source.family])
            let back = try MatchSpec(filter: source.filter, families: [source.family])
            return nftTraceChains(
                named: "follow\(index)", matching: [forward, back], family: source.family, rate: rate)
        }
    }
}

extension TraceRulePlan {
    /// Two chains `<name>_prerouting`/`_output` in the session's nft table, one rule per spec marking the
    /// packets it matches for tracing; tagged by the table, so the teardown and `cleanup` remove them.
    func nftTraceChains(named name: String, matching specs: [MatchSpec], family: TraceFamily, rate: TraceRate)
        -> [PlannedRule]
    {
        let table = session.nftTable
        return [("prerouting", MatchSpec.Direction.in), ("output", .out)].map { hook, direction in
            let chain = "\(name)_\(hook)"
            let statements = specs.map { spec in
                var statement = spec.nftMatch(family: family, direction: direction)
                if !rate.isUnlimited { statement.append("limit rate \(rate.perSecond)/second") }
                statement.append("meta nftrace set 1")
                return "\t\t" + statement.joined(separator: " ")
            }
            let text = """
                table inet \(table) {
                \tchain \(chain) {
                \t\ttype filter hook \(hook) priority \(TraceRulePlan.nftPriority); policy accept;
                \(statements.joined(separator: "\n"))
                \t}
                }

                """
            return PlannedRule(
                family: family, table: table, chain: chain,
                install: PlannedCommand(["nft", "-f", "-"], stdin: text),
                remove: PlannedCommand(["nft", "delete", "chain", "inet", table, chain]),
                check: PlannedCommand(["nft", "list", "chain", "inet", table, chain]))
        }
    }
}
