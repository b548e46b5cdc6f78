import PathTraceCore

/// Puts one packet's walk on the boxes of a flow diagram: numbers its steps in the slots they ran in,
/// marks NAT rewrites, greys the tables the packet passed without a step (with the reason), and gives
/// the route it took through the boxes.
enum FlowWalkPlacer {
    struct Result {
        var walk: FlowDiagram.Walk
        /// Box ids in the order the packet went through them (a box may repeat: br_netfilter returns).
        var path: [String]
        /// NAT and verdict lines, each beside its box.
        var labels: [(box: String, text: String, kind: FlowDiagram.Label.Kind)]
    }

    static func place(
        _ walk: PacketWalk, family: FlowDiagram.Family, boxes: inout [FlowDiagram.Box], ruleset: Ruleset?
    ) -> Result {
        var steps: [FlowDiagram.Step] = []
        var lastPlaced: (box: Int, name: String, chain: String?)?
        var recent: [String: (box: Int, name: String, chain: String?)] = [:]
        var layers = Set<Netfilter.Layer>()
        for (i, step) in walk.steps.enumerated() {
            let e = step.event
            var entry = FlowDiagram.Step(
                number: i + 1, table: e.table, chain: e.chain, entry: entryText(e),
                verdict: step.verdict.map { $0.description + (step.verdictInferred ? "*" : "") } ?? "",
                ruleText: e.ruleText, box: nil)
            // An ebtables LOG line names its table and chain: it has a slot on the bridge diagram.
            if e.kind != .log || e.family == .bridge, !e.table.isEmpty,
                let at = slotIndex(for: step, walk: walk, boxes: &boxes, ruleset: ruleset, recent: &recent)
            {
                boxes[at.box].slots[at.slot].steps.append(i + 1)
                boxes[at.box].slots[at.slot].state = .visited
                entry.box = boxes[at.box].id
                lastPlaced = (at.box, boxes[at.box].slots[at.slot].name, boxes[at.box].slots[at.slot].chain)
                if case .hook(let layer, _) = boxes[at.box].kind { layers.insert(layer) }
            }
            steps.append(entry)
        }
        let lastSlot = lastPlaced.flatMap { p in
            boxes[p.box].slots.firstIndex { $0.name == p.name && $0.chain == p.chain }.map { (box: p.box, slot: $0) }
        }
        var labels: [(box: String, text: String, kind: FlowDiagram.Label.Kind)] = []
        var natLines: [String] = []
        for nat in walk.nat {
            let text = natText(nat)
            natLines.append(text)
            guard let at = natSlot(nat, walk: walk, boxes: boxes) else { continue }
            boxes[at.box].slots[at.slot].nat.append(text)
            labels.append((boxes[at.box].id, "✎ " + text, .nat))
        }
        let path = route(walk, family: family, boxes: boxes, last: lastSlot.map { boxes[$0.box].id })
        var reasons: [(letter: String, reason: FlowDiagram.SkipReason)] = []
        markSkipped(walk, path: path, last: lastSlot, layers: layers, boxes: &boxes, ruleset: ruleset) { reason in
            if !reasons.contains(where: { $0.reason == reason }) {
                reasons.append((String(UnicodeScalar(UInt8(ascii: "a") + UInt8(reasons.count))), reason))
            }
        }
        markNoChain(&boxes, ruleset: ruleset, family: walk.family)
        if let s = steps.last(where: { $0.box != nil }), let box = s.box {
            var text = "verdict \(walk.verdict.rawValue) after step \(s.number) (\(s.table):\(s.chain))"
            if walk.verdict == .accept && walk.path != .incomplete {
                text += walk.path == .input ? ": delivered to the local process" : ": sent on"
            }
            labels.append((box, "■ " + text, .verdict(walk.verdict)))
        }
        var notes: [String] = []
        if let r = walk.replyTo {
            notes.append("reply in the connection packet \(r) opened")
        } else if let c = walk.connection {
            notes.append("later packet of the connection packet \(c) opened")
        }
        let logs = steps.filter { $0.box == nil && $0.table.isEmpty }.map { String($0.number) }
        if !logs.isEmpty {
            notes.append("LOG lines do not name their chain: step \(logs.joined(separator: ", ")) is listed, not drawn")
        }
        let unplaced = steps.filter { $0.box == nil && !$0.table.isEmpty }.map { String($0.number) }
        if !unplaced.isEmpty {
            notes.append("steps \(unplaced.joined(separator: ", ")) have no box on the \(family.rawValue) diagram")
        }
        let summary = FlowDiagram.Walk(
            header: header(walk), steps: steps, reasons: reasons, nat: natLines, notes: notes)
        return Result(walk: summary, path: path, labels: labels)
    }

    // MARK: - Steps

    static func entryText(_ e: TraceEvent) -> String {
        let ref: String
        switch e.rule {
        case .number(let n): ref = " \(n)"
        case .handle(let h): ref = " handle \(h)"
        case nil: ref = ""
        }
        switch e.kind {
        case .rule: return e.rule.map { $0.description } ?? "rule"
        case .policy: return "policy" + ref
        case .return: return "return" + ref
        case .log: return e.prefix.map { "log \"\($0.trimmingSpaces())\"" } ?? "log"
        }
    }

    /// The tables iptables (and ebtables) register at fixed priorities.
    static let standardTables: Set<String> = ["raw", "mangle", "nat", "filter", "security", "broute"]

    /// The slot a step ran in. An iptables table's base chain (named after its hook) runs in the table's
    /// slot; an nft base chain gets a slot of its own, at its priority; a user chain runs in the slot of
    /// the base chain that jumped to it.
    static func slotIndex(
        for step: WalkStep, walk: PacketWalk, boxes: inout [FlowDiagram.Box], ruleset: Ruleset?,
        recent: inout [String: (box: Int, name: String, chain: String?)]
    ) -> (box: Int, slot: Int)? {
        let e = step.event
        let layer: Netfilter.Layer = e.family == .bridge ? .bridge : .ip
        guard var hook = step.hook ?? e.hook else { return nil }
        if hook == .brouting { hook = .prerouting }
        guard let b = boxes.firstIndex(where: { $0.kind == .hook(layer, hook) }) else { return nil }
        let key = "\(b)/\(e.table)"
        func find(_ name: String, _ chain: String?) -> Int? {
            boxes[b].slots.firstIndex { $0.kind == .table && $0.name == name && $0.chain == chain }
        }
        let declared = ruleset?.basePosition(table: e.table, chain: e.chain, family: e.family)?.priority
        let standard =
            layer == .bridge
            ? Netfilter.bridgePriority(table: e.table, hook: hook) : Netfilter.priority(table: e.table, hook: hook)
        // An ebtables LOG line's table and chain are ebtables' own (its prefix names them).
        let ebtables = layer == .bridge && e.kind == .log && standard != nil
        if declared == nil && Hook(chainName: e.chain) == nil {
            // A user chain: where its table's last base chain at this hook was.
            if let r = recent[key], let s = find(r.name, r.chain) { return (b, s) }
            if let s = find(e.table, nil) { return (b, s) }
        }
        let isStandard =
            ebtables
            || standardTables.contains(e.table) && e.chain == hook.rawValue && (declared == nil || declared == standard)
        if isStandard || (declared == nil && e.chain == hook.rawValue), let s = find(e.table, nil) {
            recent[key] = (b, e.table, nil)
            return (b, s)
        }
        if let s = find(e.table, e.chain) {
            recent[key] = (b, e.table, e.chain)
            return (b, s)
        }
        let priority = declared ?? standard ?? 0
        var slot = FlowDiagram.Slot(name: e.table, label: "", kind: .table, priority: priority)
        slot.chain = e.chain
        let both = "\(e.table) \(e.chain)"
        slot.label = both.count <= 12 ? both : String(e.chain.prefix(12))
        let s = boxes[b].slots.firstIndex { $0.priority > priority } ?? boxes[b].slots.count
        boxes[b].slots.insert(slot, at: s)
        recent[key] = (b, e.table, e.chain)
        return (b, s)
    }

    // MARK: - NAT

    static func natText(_ nat: NatRewrite) -> String {
        var how = nat.type.rawValue.uppercased()
        if nat.direction == "reply" { how = "reverse " + how }
        if nat.at.hasPrefix("conntrack:") { how += ", by conntrack" }
        return "\(nat.field.uppercased()) \(nat.before) → \(nat.after ?? "?") (\(how))"
    }

    /// The nat slot where a rewrite happened: the hook of the nat chain named in `at` (or of the step in it),
    /// else by field: destination before routing, source after it.
    static func natSlot(_ nat: NatRewrite, walk: PacketWalk, boxes: [FlowDiagram.Box]) -> (box: Int, slot: Int)? {
        let parts = nat.at.split(separator: ":", maxSplits: 1).map(String.init)
        let chain = parts.count == 2 ? parts[1] : ""
        var hook = Hook(chainName: chain)
        if hook == nil {
            hook = walk.steps.first { $0.event.table == "nat" && $0.event.chain == chain }?.hook
        }
        if hook == nil {
            let hooks = walk.steps.compactMap(\.hook)
            hook =
                nat.field == "dst"
                ? hooks.first { $0 == .prerouting || $0 == .output } : hooks.last { $0 == .postrouting || $0 == .input }
        }
        let layer: Netfilter.Layer = walk.family == .bridge ? .bridge : .ip
        guard let hook, let b = boxes.firstIndex(where: { $0.kind == .hook(layer, hook) }) else { return nil }
        let table = parts.first ?? ""
        if table != "conntrack" {
            if let s = boxes[b].slots.firstIndex(where: { $0.name == table && $0.chain == chain }) { return (b, s) }
            if let s = boxes[b].slots.firstIndex(where: { $0.name == table && $0.chain == nil }) { return (b, s) }
        }
        if let s = boxes[b].slots.firstIndex(where: { $0.name == "nat" }) { return (b, s) }
        if let s = boxes[b].slots.firstIndex(where: { $0.kind == .conntrack || $0.kind == .conntrackConfirm }) {
            return (b, s)
        }
        return nil
    }

    // MARK: - Route

    /// The boxes the packet went through, wire to wire, cut after the last step's box when it stopped there.
    static func route(_ walk: PacketWalk, family: FlowDiagram.Family, boxes: [FlowDiagram.Box], last: String?)
        -> [String]
    {
        let hooks = Set(walk.steps.compactMap(\.hook))
        var path = walk.path
        if path == .incomplete {
            if walk.steps.contains(where: { $0.event.physIn != nil || $0.event.physOut != nil }) && family == .bridge {
                path = .bridged
            } else if hooks.contains(.forward) {
                path = .forward
            } else if hooks.contains(.input) {
                path = .input
            } else if hooks.contains(.output) {
                path = .output
            } else {
                path = .forward
            }
        }
        var full: [String]
        if family == .bridge {
            let (pre, fwd, post) = ("bridge/PREROUTING", "bridge/FORWARD", "bridge/POSTROUTING")
            switch path {
            case .input:
                full = ["wire-in", pre, "ip/PREROUTING", pre, "bridging", "bridge/INPUT", "local"]
            case .output:
                full = ["local", "bridge/OUTPUT", post, "ip/POSTROUTING", post, "wire-out"]
            default:
                full = [
                    "wire-in", pre, "ip/PREROUTING", pre, "bridging", fwd, "ip/FORWARD", fwd, post, "ip/POSTROUTING",
                    post, "wire-out",
                ]
            }
        } else {
            switch path {
            case .input: full = ["wire-in", "ip/PREROUTING", "route-in", "ip/INPUT", "local"]
            case .output: full = ["local", "route-out", "ip/OUTPUT", "ip/POSTROUTING", "wire-out"]
            default: full = ["wire-in", "ip/PREROUTING", "route-in", "ip/FORWARD", "ip/POSTROUTING", "wire-out"]
            }
        }
        let finished = walk.verdict == .accept && walk.path != .incomplete
        if !finished, let last, let i = full.lastIndex(of: last) { full = Array(full[...i]) }
        return full
    }

    /// Greys (with a reason) each table on the path before the walk's end that it has no step in;
    /// conntrack and br_netfilter on the path, and tables of a layer the trace does not show, are passed.
    static func markSkipped(
        _ walk: PacketWalk, path: [String], last: (box: Int, slot: Int)?, layers: Set<Netfilter.Layer>,
        boxes: inout [FlowDiagram.Box], ruleset: Ruleset?, reason note: (FlowDiagram.SkipReason) -> Void
    ) {
        var order: [(box: Int, slot: Int)] = []
        var seen = Set<String>()
        for id in path where !seen.contains(id) {
            seen.insert(id)
            guard let b = boxes.firstIndex(where: { $0.id == id }) else { continue }
            for s in boxes[b].slots.indices { order.append((b, s)) }
        }
        var end = order.count
        let finished = walk.verdict == .accept && walk.path != .incomplete
        if !finished {
            guard let last, let i = order.firstIndex(where: { $0 == last }) else { return }
            end = i + 1
        }
        let connection = walk.replyTo ?? walk.connection
        for (b, s) in order[..<end] {
            let slot = boxes[b].slots[s]
            guard slot.state == .idle, case .hook(let layer, let hook) = boxes[b].kind else { continue }
            if slot.kind != .table || !layers.contains(layer) {
                boxes[b].slots[s].state = .passed
                continue
            }
            let reason: FlowDiagram.SkipReason
            if slot.name == "nat", let connection {
                reason = .natFirstPacketOnly(connection: connection)
            } else if let ruleset, layer == .ip, !knows(ruleset, table: slot.name, family: walk.family) {
                reason = .notInRuleset
            } else if let ruleset, layer == .ip, !hasChain(ruleset, table: slot.name, hook: hook, family: walk.family) {
                reason = .noChain
            } else {
                reason = .notTraced
            }
            boxes[b].slots[s].state = .skipped(reason)
            note(reason)
        }
    }

    /// Marks idle IP tables that the ruleset has but without a chain at that hook.
    static func markNoChain(_ boxes: inout [FlowDiagram.Box], ruleset: Ruleset?, family: Family?) {
        guard let ruleset else { return }
        for b in boxes.indices {
            guard case .hook(.ip, let hook) = boxes[b].kind else { continue }
            for s in boxes[b].slots.indices {
                let slot = boxes[b].slots[s]
                guard slot.state == .idle, slot.kind == .table, knows(ruleset, table: slot.name, family: family),
                    !hasChain(ruleset, table: slot.name, hook: hook, family: family)
                else { continue }
                boxes[b].slots[s].state = .noChain
            }
        }
    }

    static func knows(_ ruleset: Ruleset, table: String, family: Family?) -> Bool {
        !ruleset.tables(named: table, family: family).isEmpty
    }

    /// Whether a table has a base chain at `hook`: iptables names it after the hook, nft declares the hook.
    static func hasChain(_ ruleset: Ruleset, table: String, hook: Hook, family: Family?) -> Bool {
        ruleset.tables(named: table, family: family).contains { t in
            t.chains.contains { $0.name == hook.rawValue || $0.hook.flatMap(Hook.init(chainName:)) == hook }
        }
    }

    // MARK: - Header

    /// `packet 1  ipv4 tcp 192.168.122.17:42954 → 10.44.32.217:3128 [SYN]  path forward  verdict accept`.
    static func header(_ walk: PacketWalk) -> String {
        var flow = ""
        if let h = walk.firstHeader {
            let proto = h.proto.map(IPProtocol.name) ?? "?"
            flow = " \(proto) \(endpoint(h.src, h.sport)) → \(endpoint(h.dst, h.dport))"
            if !h.tcpFlags.isEmpty { flow += " [" + h.tcpFlags.names.joined(separator: " ") + "]" }
            if let t = h.icmpType { flow += " type \(t) code \(h.icmpCode ?? 0)" }
        }
        var s = "packet \(walk.packet)  \(walk.family.rawValue)\(flow)  path \(walk.path.rawValue)"
        s += "  verdict \(walk.verdict.rawValue)"
        if let ns = walk.netns { s += "  netns \(ns)" }
        return s
    }

    static func endpoint(_ a: IPAddress?, _ port: UInt16?) -> String {
        guard let a else { return "?" }
        return Endpoint(address: a, port: port).description
    }
}
