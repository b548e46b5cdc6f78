#if os(Linux)
import PathTraceCore

/// Which backend and families a live session uses, and what it will leave behind, decided from the
/// namespace's iptables-legacy listings before anything is installed.
///
/// Legacy `TRACE` needs a raw table, and a legacy table once loaded stays (empty) after its rules are
/// removed: where the raw table of a traced family is not loaded, the session says so before it starts
/// and again at exit, rather than claim it leaves the namespace as it found it.
public struct BackendChoice: Sendable, Equatable {
    public var backend: TraceBackend
    /// The families to put rules in.
    public var families: [TraceFamily]
    /// The families whose raw table the session's TRACE rules load: it stays, empty, after they go.
    public var leavesRawTable: [TraceFamily]
    /// Lines for before anything is installed (without the `pathtrace: ` prefix).
    public var messages: [String]
    /// Lines for after the teardown: what the session could not take away.
    public var exitMessages: [String]

    /// What one family's `iptables-legacy-save` showed.
    public struct Listing: Sendable, Equatable {
        /// The tables it lists (`raw`, `filter`, …): those loaded in the namespace.
        public var tables: Set<String>
        /// Whether any chain holds a rule (`-A …`).
        public var hasRules: Bool

        public init(tables: Set<String> = [], hasRules: Bool = false) {
            self.tables = tables
            self.hasRules = hasRules
        }

        /// Reads an `iptables-save` listing; nil or unreadable text means nothing is loaded.
        public init(save text: String?) {
            self.init()
            for line in (text ?? "").split(separator: "\n") {
                if line.hasPrefix("*") { tables.insert(String(line.dropFirst())) }
                if line.hasPrefix("-A ") { hasRules = true }
            }
        }
    }

    /// The nft tables of `nft list ruleset` that are not iptables-nft's own compat tables (nor a
    /// pathtrace session's table): a user's or a firewall daemon's tables, as `family name`.
    public static func userNftTables(_ text: String?) -> [String] {
        guard let text else { return [] }
        let compatNames: Set<String> = ["filter", "nat", "mangle", "raw", "security", "broute"]
        let hooks: Set<String> = ["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING", "BROUTING"]
        var out: [String] = []
        var current: (family: String, name: String)?
        var baseChains: [String] = []
        var managed = false
        func close() {
            guard let t = current else { return }
            defer { current = nil }
            if t.name.hasPrefix("pathtrace_") { return }
            // iptables-nft's tables: an xtables name in ip/ip6/arp/bridge, every base chain named after
            // its hook in capitals (or nft's own note that iptables-nft manages it).
            let xtablesFamily = ["ip", "ip6", "arp", "bridge"].contains(t.family)
            if xtablesFamily && compatNames.contains(t.name)
                && (managed || baseChains.allSatisfy { hooks.contains($0) })
            {
                return
            }
            out.append("\(t.family) \(t.name)")
        }
        var chain: String?
        for raw in text.split(separator: "\n") {
            let words = raw.split(whereSeparator: { $0 == " " || $0 == "\t" })
            if words.first == "table", words.count >= 3 {
                close()
                current = (String(words[1]), String(words[2]))
                baseChains = []
                managed = false
            } else if words.first == "chain", words.count >= 2 {
                chain = String(words[1])
            } else if words.first == "type", words.contains("hook"), let chain {
                baseChains.append(chain)
            } else if raw.contains("managed by iptables-nft") {
                managed = true
            }
        }
        close()
        return out
    }

    /// Reads both families' legacy listings in `namespace` and decides. `requested` nil is `auto`, which
    /// also reads `nft list ruleset` where legacy rules are in use (nft tables beside them: `mixed`).
    public static func decide(
        requested: TraceBackend?, filter: WalkFilter, namespace: TraceNamespace,
        runner: any CommandRunning = SystemCommandRunner()
    ) -> BackendChoice {
        var listings: [TraceFamily: Listing] = [:]
        for family in TraceFamily.allCases {
            let save = PlannedCommand([TraceRulePlan.iptablesSaveBinary(family)])
            let result = try? runner.run(save, in: namespace)
            listings[family] = Listing(save: result?.succeeded == true ? result?.stdout : nil)
        }
        var nftTables: [String] = []
        if requested == nil, listings.values.contains(where: \.hasRules) {
            let result = try? runner.run(PlannedCommand(["nft", "list", "ruleset"]), in: namespace)
            nftTables = userNftTables(result?.succeeded == true ? result?.stdout : nil)
        }
        return decide(requested: requested, filter: filter, listings: listings, nftTables: nftTables)
    }

    /// The decision itself, pure: `auto` takes legacy where the traced families have iptables-legacy
    /// rules (those chains are what a user needs to see), `mixed` where nft tables (`nftTables`, as
    /// `family name`, iptables-nft's own left out) are loaded beside them, and nft, which leaves nothing,
    /// where they have none.
    public static func decide(
        requested: TraceBackend?, filter: WalkFilter, listings: [TraceFamily: Listing], nftTables: [String] = []
    ) -> BackendChoice {
        let asked = filterFamilies(filter)
        let candidates = asked ?? TraceFamily.allCases
        func listing(_ f: TraceFamily) -> Listing { listings[f] ?? Listing() }
        var messages: [String] = []
        var backend: TraceBackend
        var families: [TraceFamily]

        switch requested {
        case nil:
            let inUse = candidates.filter { listing($0).hasRules }
            if inUse.isEmpty {
                backend = .nft
                families = candidates
                let anyRules = TraceFamily.allCases.contains { listing($0).hasRules }
                messages.append(
                    anyRules
                        ? "backend nft (no iptables-legacy rules for \(names(candidates)), the families traced)"
                        : "backend nft (no iptables-legacy rules in use)")
            } else if case let seen = nftSeeing(candidates, nftTables), !seen.isEmpty {
                backend = .mixed
                families = candidates
                messages.append(
                    "backend mixed (iptables-legacy rules beside nft tables: \(seen.joined(separator: ", ")); "
                        + "one walk shows both)")
            } else {
                backend = .legacy
                families = asked ?? inUse
                messages.append("backend legacy (the ruleset has iptables-legacy rules)")
                for f in candidates where !families.contains(f) {
                    messages.append(
                        "\(f.rawValue) not traced: no iptables-legacy rules for it here (\(flag(f)) traces it)")
                }
            }
        case .nft?:
            backend = .nft
            families = candidates
        case .mixed?:
            backend = .mixed
            families = candidates
        case let other?:
            backend = other
            // Unasked, a family is traced where its table is already loaded; else where legacy rules are.
            let table: (TraceFamily) -> Bool =
                other == .nflog ? { !listing($0).tables.isEmpty } : { listing($0).tables.contains("raw") }
            let loaded = candidates.filter(table)
            let withRules = candidates.filter { listing($0).hasRules }
            families = asked ?? (loaded.isEmpty ? (withRules.isEmpty ? [.ipv4] : withRules) : loaded)
            for f in candidates where !families.contains(f) {
                let what = other == .nflog ? "its tables are" : "its raw table is"
                messages.append("\(f.rawValue) not traced: \(what) not loaded here (\(flag(f)) traces it)")
            }
        }

        var leaves: [TraceFamily] = []
        var exitMessages: [String] = []
        if backend.usesLegacyTrace {
            leaves = families.filter { !listing($0).tables.contains("raw") }
            for f in leaves {
                messages.append(
                    "\(f.rawValue): no raw table is loaded here, and TRACE needs one: "
                        + "the raw table will stay, empty, after pathtrace removes its rules "
                        + "(a legacy table once loaded is not unloaded)")
                exitMessages.append(
                    "the \(f.rawValue) raw table stays, empty: TRACE loaded it, and a legacy table is not unloaded")
            }
        }
        return BackendChoice(
            backend: backend, families: families, leavesRawTable: leaves, messages: messages,
            exitMessages: exitMessages)
    }

    /// The nft tables that see packets of the traced families (`inet` sees both).
    static func nftSeeing(_ families: [TraceFamily], _ tables: [String]) -> [String] {
        tables.filter { t in
            let family = t.split(separator: " ").first.map(String.init) ?? ""
            return family == "inet" || (family == "ip" && families.contains(.ipv4))
                || (family == "ip6" && families.contains(.ipv6))
        }
    }

    /// The single family the filter implies, as the rule plan would narrow it; nil when it names none.
    static func filterFamilies(_ filter: WalkFilter) -> [TraceFamily]? {
        if let v = filter.ipVersion { return [v == 6 ? .ipv6 : .ipv4] }
        if let a = filter.src?.address ?? filter.dst?.address { return [a.isV6 ? .ipv6 : .ipv4] }
        if filter.proto == IPProtocol.icmp { return [.ipv4] }
        if filter.proto == IPProtocol.icmpv6 { return [.ipv6] }
        return nil
    }

    static func flag(_ f: TraceFamily) -> String { f == .ipv4 ? "-4" : "-6" }
    static func names(_ fs: [TraceFamily]) -> String { fs.map(\.rawValue).joined(separator: " and ") }
}
#endif
