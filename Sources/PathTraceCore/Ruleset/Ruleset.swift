/// The rules of one or more tables, per chain in order, with the chain policies.
///
/// Built by `RulesetParser` from `iptables-save`, `iptables -L` listings or `nft list ruleset`, and used to
/// resolve a trace record's `rule 3` or `handle 12` to the rule's text, its target and its NAT target.
public struct Ruleset: Sendable, Equatable {
    /// Which text format a table was read from.
    public enum Format: String, Sendable, Hashable {
        /// `iptables-save` / `ip6tables-save` (legacy or nft variant), `iptables -S`, restore files.
        case iptablesSave = "iptables-save"
        /// `iptables -L -n [-v] [--line-numbers]`.
        case iptablesListing = "iptables-list"
        /// `nft [-a] list ruleset`.
        case nft
    }

    /// One chain: its rules in order and its policy.
    public struct Chain: Sendable, Equatable {
        /// The chain name as the source spells it (`INPUT`, `DOCKER`, nft `input`).
        public var name: String
        /// `ACCEPT`/`DROP` (iptables) or `accept`/`drop` (nft base chains); nil for user chains.
        public var policy: String?
        /// nft base chains: the chain type (`filter`, `nat`, `route`).
        public var type: String?
        /// nft base chains: the hook (`prerouting`, `input`, `ingress`, ...).
        public var hook: String?
        /// nft base chains: the priority as written (`filter`, `dstnat + 10`, `-300`).
        public var priority: String?
        /// nft: the chain's handle, when listed with `-a`.
        public var handle: UInt64?
        /// The rules in order; `rules[i].number` is the rule's 1-based position (or its listed `num`).
        public var rules: [RuleInfo]

        /// Creates an empty chain.
        public init(name: String, policy: String? = nil, rules: [RuleInfo] = []) {
            self.name = name
            self.policy = policy
            self.rules = rules
        }

        /// The number of rules, so that number `ruleCount + 1` is the policy or implicit-return entry.
        public var ruleCount: Int { rules.last?.number ?? 0 }

        /// The rule at a 1-based position (legacy TRACE numbering).
        public func rule(number: Int) -> RuleInfo? {
            if number >= 1 && number <= rules.count && rules[number - 1].number == number { return rules[number - 1] }
            return rules.first { $0.number == number }
        }

        /// The rule with an nft handle.
        public func rule(handle: UInt64) -> RuleInfo? { rules.first { $0.handle == handle } }
    }

    /// One table, named as iptables names it (`nat`) or as nft names it, with its nft family word.
    public struct Table: Sendable, Equatable {
        /// `filter`, `nat`, `mangle`, `raw`, `security`, or any nft table name.
        public var name: String
        /// The nft family word: `ip`, `ip6`, `inet`, `arp`, `bridge` or `netdev`; iptables tables are `ip`/`ip6`.
        public var family: String
        /// The format the table's chains were read from (the last one, after a merge).
        public var format: Format
        /// The chains in the order the source listed them.
        public private(set) var chains: [Chain]
        /// Chain name → index in `chains`.
        var chainIndex: [String: Int]
        /// nft handle → where the rule is; rebuilt by `reindexHandles()` once a table is complete.
        var handleIndex: [UInt64: RuleLocation] = [:]

        /// Creates a table; a later chain replaces an earlier one of the same name.
        public init(name: String, family: String, format: Format, chains: [Chain] = []) {
            self.name = name
            self.family = family
            self.format = format
            self.chains = []
            chainIndex = [:]
            for chain in chains { replaceChain(chain) }
            reindexHandles()
        }

        /// The rule with an nft handle, in any chain of the table.
        public func rule(handle: UInt64) -> RuleInfo? {
            guard let at = handleIndex[handle], at.chain < chains.count, at.rule < chains[at.chain].rules.count
            else { return nil }
            let rule = chains[at.chain].rules[at.rule]
            return rule.handle == handle ? rule : nil
        }

        mutating func reindexHandles() {
            handleIndex = [:]
            for (c, chain) in chains.enumerated() {
                for (r, rule) in chain.rules.enumerated() {
                    if let h = rule.handle { handleIndex[h] = RuleLocation(chain: c, rule: r) }
                }
            }
        }

        /// The chain with this name.
        public func chain(_ name: String) -> Chain? { chainIndex[name].map { chains[$0] } }

        /// Puts `chain` into the table, replacing a chain of the same name in place.
        mutating func replaceChain(_ chain: Chain) {
            if let i = chainIndex[chain.name] {
                chains[i] = chain
            } else {
                chainIndex[chain.name] = chains.count
                chains.append(chain)
            }
        }

        /// Runs `body` on the chain named `name`, appending an empty chain first when there is none.
        mutating func updateChain(_ name: String, _ body: (inout Chain) throws -> Void) rethrows {
            if chainIndex[name] == nil {
                chainIndex[name] = chains.count
                chains.append(Chain(name: name))
            }
            if let i = chainIndex[name] { try body(&chains[i]) }
        }

        /// Whether this table can see packets of a trace family (`inet` sees IPv4 and IPv6).
        public func matches(_ family: Family?) -> Bool {
            guard let family else { return true }
            switch family {
            case .ipv4: return self.family == "ip" || self.family == "inet"
            case .ipv6: return self.family == "ip6" || self.family == "inet"
            case .arp: return self.family == "arp"
            case .bridge: return self.family == "bridge"
            }
        }
    }

    /// The tables in the order they were first seen.
    public private(set) var tables: [Table]

    /// Creates an empty ruleset.
    public init() { tables = [] }

    /// Whether no table was read.
    public var isEmpty: Bool { tables.isEmpty }

    /// Adds `other`'s tables; a chain that both define is replaced by `other`'s (the later listing wins).
    public mutating func merge(_ other: Ruleset) {
        for table in other.tables { merge(table) }
    }

    /// The listings one namespace's backends print (iptables-legacy saves, `nft -a list ruleset`), each
    /// parsed and kept apart (`mergeApart`); nil when none parses. A live snapshot and a recorded
    /// topology read them the same way.
    public static func parsingApart(_ listings: [(text: String, source: String)]) -> Ruleset? {
        var merged = Ruleset()
        var any = false
        for listing in listings where !listing.text.isEmpty {
            guard let parsed = try? RulesetParser.parse(listing.text, sourceName: listing.source) else { continue }
            merged.mergeApart(parsed)
            any = true
        }
        return any ? merged : nil
    }

    /// Adds `other`'s tables keeping a table read from an iptables listing apart from an nft table of the
    /// same name and family: in a namespace with iptables-legacy tables beside nft tables (a `mixed`
    /// trace) they are different kernel tables, numbered differently. (`merge(_:)` joins them: an
    /// iptables-nft listing and `nft list ruleset` show the same tables.)
    public mutating func mergeApart(_ other: Ruleset) {
        for table in other.tables {
            if let i = tables.firstIndex(where: {
                $0.name == table.name && $0.family == table.family && ($0.format == .nft) == (table.format == .nft)
            }) {
                for chain in table.chains { tables[i].replaceChain(chain) }
                tables[i].reindexHandles()
            } else {
                tables.append(table)
            }
        }
    }

    /// Adds one table's chains, replacing chains of the same name.
    mutating func merge(_ table: Table) {
        let t = tableIndex(table.name, family: table.family, format: table.format)
        if tables[t].chains.isEmpty {
            tables[t] = table
        } else {
            for chain in table.chains { tables[t].replaceChain(chain) }
        }
        tables[t].reindexHandles()
    }

    /// Rebuilds every table's handle index (after chains were edited in place).
    mutating func reindexHandles() {
        for t in tables.indices { tables[t].reindexHandles() }
    }

    /// The tables with this name that can see packets of `family` (any family when nil), exact family first.
    public func tables(named name: String, family: Family? = nil) -> [Table] {
        let candidates = tables.filter { $0.name == name && $0.matches(family) }
        // `ip`/`ip6` before `inet`, so an iptables table wins over an inet table of the same name.
        return candidates.filter { $0.family != "inet" } + candidates.filter { $0.family == "inet" }
    }

    /// The chain `chain` of table `table`.
    public func chain(table: String, chain: String, family: Family? = nil) -> Chain? {
        for t in tables(named: table, family: family) {
            if let c = t.chain(chain) { return c }
        }
        return nil
    }

    /// The rule a trace record names: `.number(n)` is the 1-based position in `chain` (legacy TRACE),
    /// `.handle(h)` an nft handle, found in any chain of the table (a hit in `chain` preferred).
    public func rule(table: String, chain: String, ref: RuleRef, family: Family? = nil) -> RuleInfo? {
        let candidates = tables(named: table, family: family)
        switch ref {
        case .number(let n):
            // A rule number is legacy TRACE's: tables read from an iptables listing first.
            for t in candidates.filter({ $0.format != .nft }) + candidates.filter({ $0.format == .nft }) {
                if let c = t.chain(chain) { return c.rule(number: n) }
            }
            return nil
        case .handle(let h):
            let hits = candidates.compactMap { $0.rule(handle: h) }
            return hits.first { $0.chain == chain } ?? hits.first
        }
    }

    /// The chain's policy (`ACCEPT`, `drop`, ...); nil for a user chain or an unknown chain.
    public func policy(table: String, chain: String, family: Family? = nil) -> String? {
        self.chain(table: table, chain: chain, family: family)?.policy
    }

    /// The number of rules in the chain, nil when the chain is unknown; entry `n + 1` is the policy or return.
    public func ruleCount(table: String, chain: String, family: Family? = nil) -> Int? {
        self.chain(table: table, chain: chain, family: family)?.ruleCount
    }

    // MARK: - Building (used by the parser)

    mutating func tableIndex(_ name: String, family: String, format: Format) -> Int {
        if let i = tables.firstIndex(where: { $0.name == name && $0.family == family }) {
            tables[i].format = format
            return i
        }
        tables.append(Table(name: name, family: family, format: format))
        return tables.count - 1
    }

    /// Runs `body` on the chain, creating the table and the chain when missing.
    mutating func updateChain(
        table: String, family: String, format: Format, chain: String, _ body: (inout Chain) throws -> Void
    ) rethrows {
        let t = tableIndex(table, family: family, format: format)
        try tables[t].updateChain(chain, body)
    }
}

/// Where a rule sits in its table.
struct RuleLocation: Hashable, Sendable {
    var chain: Int
    var rule: Int
}

/// One rule of a ruleset, in a form the timeline can print and the stitcher can use.
public struct RuleInfo: Sendable, Equatable {
    /// A one-line human form: the `-A …` line (save syntax), the listing's columns joined by single spaces
    /// (`ACCEPT all -- virbr0 * 192.168.122.0/24 0.0.0.0/0`), or the nft statement without `# handle`.
    public var text: String
    /// `ACCEPT`, `DROP`, `REJECT`, `RETURN`, `MASQUERADE`, `DNAT`, `LOG`, `MARK`, a user chain, or nft `accept`,
    /// `drop`, `jump X`, `goto X`, `dnat`, `masquerade`, `reject`, `vmap`, `log`, `mark`, ...; nil when none.
    public var target: String?
    /// The NAT target when the rule translates addresses.
    public var nat: NatTarget?
    /// The chain the rule is in.
    public var chain: String
    /// The rule's 1-based position in its chain (the listing's `num` column when it has one).
    public var number: Int
    /// The nft handle (`nft -a list ruleset` only).
    public var handle: UInt64?
    /// The protocol match (`tcp`, `udp`, `icmp`, `!tcp`, ...); nil when the rule matches any protocol.
    public var proto: String?
    /// The input interface match (`virbr0`, `!docker0`, `eth+`); nil for any.
    public var inInterface: String?
    /// The output interface match; nil for any.
    public var outInterface: String?
    /// The source address match (`192.168.122.0/24`, `!10.0.0.0/8`); nil for any.
    public var source: String?
    /// The destination address match; nil for any.
    public var destination: String?
    /// Where the rule was read: file and line.
    public var origin: SourcePosition

    /// Creates a rule.
    public init(
        chain: String, number: Int, text: String, target: String?, nat: NatTarget? = nil, origin: SourcePosition
    ) {
        self.chain = chain
        self.number = number
        self.text = text
        self.target = target
        self.nat = nat
        self.origin = origin
    }
}

/// Why a ruleset file could not be read.
public struct RulesetError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The file name as given (`-` for stdin).
    public var source: String
    /// The 1-based line the problem is on; nil when it concerns the whole file.
    public var line: Int?
    /// What was wrong.
    public var reason: String

    /// Creates an error.
    public init(source: String, line: Int?, reason: String) {
        self.source = source
        self.line = line
        self.reason = reason
    }

    /// `file:line: reason`, or `file: reason` for the whole file.
    public var description: String {
        if let line { return "\(source):\(line): \(reason)" }
        return "\(source): \(reason)"
    }
}
