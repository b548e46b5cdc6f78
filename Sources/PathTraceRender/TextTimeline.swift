import PathTraceCore

/// The text timeline of DESIGN.md: a block per walk, a line per step, NAT rewrites highlighted.
public struct TextTimeline {
    public var options: RenderOptions

    public init(options: RenderOptions) {
        self.options = options
    }

    enum Style: String {
        case bold = "1", dim = "2", red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36"
    }

    func paint(_ s: String, _ style: Style) -> String {
        options.color ? "\u{1B}[\(style.rawValue)m\(s)\u{1B}[0m" : s
    }

    public func render(_ walk: PacketWalk) -> String {
        // The header keeps the packet as it entered, which a folded step may be the only one to show.
        let folded = options.verbose ? nil : OwnTraceSteps(walk: walk)
        var out = header(walk) + "\n"
        out += devices(walk.interfaces)
        // Only a kernel's timestamps give a time column: a receive time would print +0.000000 for
        // every step of a batch, a false zero.
        let t0 = walk.steps.first {
            $0.event.time != nil && $0.event.timeBasis == .kernel && (folded == nil || !OwnTraceSteps.isOwn($0.event))
        }?.event.time
        if t0 == nil, let received = walk.steps.lazy.compactMap(\.event.time).first {
            let note = "received \(TextTimeline.clock(received)) (no time per step: the records carry none)"
            out += "  " + paint(note, .dim) + "\n"
        }
        if let folded {
            let chains = folded.chains.joined(separator: ", ")
            let steps = folded.count == 1 ? "1 step" : "\(folded.count) steps"
            out += "  " + paint("traced from \(folded.table) (\(chains): \(steps); --verbose shows them)", .dim) + "\n"
        }
        var previous: WalkStep?
        var anyInferred = false
        // An --explain sentence starts under the hook column, or under `table:chain` without a time column.
        let indent = String(repeating: " ", count: t0 == nil ? 14 : 13)
        // The last header of a folded step: the first step shown tells what changed since.
        var foldedHeader: PacketHeader?
        for (index, step) in walk.steps.enumerated() {
            if folded != nil, OwnTraceSteps.isOwn(step.event) {
                if let h = step.event.header { foldedHeader = h }
                continue
            }
            out += line(step, previous: previous, t0: t0, folded: previous == nil ? foldedHeader : nil) + "\n"
            if step.verdictInferred { anyInferred = true }
            if options.explain { out += indent + paint(Explain.step(walk, at: index), .dim) + "\n" }
            previous = step
        }
        for nat in walk.nat { out += "  " + natLine(nat) + "\n" }
        if let reply = walk.replyTo {
            out += "  " + paint("reply in the connection packet \(reply) opened", .cyan) + "\n"
        } else if let first = walk.connection {
            out += "  " + paint("later packet of the connection packet \(first) opened", .cyan) + "\n"
        }
        for note in walk.notes { out += "  " + paint("note: " + note, .dim) + "\n" }
        if anyInferred { out += "  " + paint("* verdict inferred: the source does not print verdicts", .dim) + "\n" }
        out += vanished(walk.vanished)
        return out
    }

    /// `  device virbr0  bridge (ports vnet0)  192.168.122.1/24`, one line per device the walk used.
    func devices(_ interfaces: [WalkInterface]) -> String {
        let width = interfaces.map(\.name.count).max() ?? 0
        return interfaces.map { i in
            let addresses = i.addresses.filter { !$0.hasPrefix("fe80:") }
            return "  " + paint("device " + pad(i.name, width), .dim) + "  " + i.role
                + (addresses.isEmpty ? "" : "  " + addresses.joined(separator: " ")) + "\n"
        }.joined()
    }

    /// Why the packet went no further, most likely first, each with the command that would change it.
    public func vanished(_ causes: [Vanished]) -> String {
        causes.map { v in
            var s = "  " + paint("vanished: \(v.cause.rawValue)", .red)
            if let ns = v.netns { s += " in \(ns)" }
            s += (v.guess ? " (a guess): " : ": ") + v.detail + "\n"
            if let fix = v.fix { s += "    fix: " + fix + "\n" }
            return s
        }.joined()
    }

    /// A path across namespaces: `journey 1  a → b → c  (packets 1 → 3 → 5)`, then the way it went.
    public func render(_ journey: Journey) -> String {
        var out = paint("journey \(journey.number)", .bold) + "  " + journey.netns.joined(separator: " → ")
        out += "  (packets " + journey.walks.map(String.init).joined(separator: " → ") + ")\n"
        var path: [String] = []
        for (i, leg) in journey.legs.enumerated() {
            var part = paint(leg.netns, .bold) + ": " + leg.hooks.map(\.rawValue).joined(separator: " → ")
            for nat in leg.nat where nat.direction == "original" {
                part += " (\(nat.type.rawValue.uppercased()) \(nat.before) → \(nat.after ?? "?"))"
            }
            if leg.verdict == .drop { part += " " + paint("DROP", .red) }
            if i < journey.links.count { part += " → " + journey.links[i] }
            path.append(part)
        }
        out += "  " + path.joined(separator: "\n    → ") + "\n"
        out += vanished(journey.vanished)
        return out
    }

    func header(_ walk: PacketWalk) -> String {
        var flow = ""
        if let h = walk.firstHeader, h.src == nil, h.dst == nil, let from = h.macSrc, let to = h.macDst {
            // A frame that is not IP (ARP): its EtherType and MAC addresses.
            let type = h.macProto == 0x0806 ? "arp" : h.macProto.map { "ethertype 0x" + String($0, radix: 16) } ?? "?"
            flow = "\(type) \(from) → \(to)"
        } else if let h = walk.firstHeader {
            let proto = h.proto.map(IPProtocol.name) ?? (h.macProto == 0x0806 ? "arp" : "?")
            flow = "\(proto) \(endpoint(h.src, h.sport)) → \(endpoint(h.dst, h.dport))"
            if !h.tcpFlags.isEmpty { flow += " [" + h.tcpFlags.names.joined(separator: " ") + "]" }
            if let t = h.icmpType { flow += " type \(t) code \(h.icmpCode ?? 0)" }
        } else if let prefix = walk.steps.first?.event.prefix {
            flow = "log \"\(prefix)\""
        }
        let verdictStyle: Style = walk.verdict == .accept ? .green : (walk.verdict == .drop ? .red : .yellow)
        var s = paint("packet \(walk.packet)", .bold) + "  \(walk.family.rawValue) \(flow)"
        s += "  path " + paint(walk.path.rawValue, .bold) + "  verdict " + paint(walk.verdict.rawValue, verdictStyle)
        if walk.confidence < 1 { s += "  confidence \(format(walk.confidence))" }
        if let ns = walk.netns { s += "  netns \(ns)" }
        return s
    }

    func line(_ step: WalkStep, previous: WalkStep?, t0: Double?, folded: PacketHeader? = nil) -> String {
        let e = step.event
        // No time column at all when the walk has no kernel time (t0 nil); a blank for a step without one.
        var time = t0 == nil ? "" : "           "
        if let t = e.time, e.timeBasis == .kernel, let t0 { time = "+" + fixed(t - t0, 6) + "  " }
        // A bridge hook and the IP hook of the same name are two hooks.
        let bridge = e.family == .bridge
        let sameHook = step.hook == previous?.hook && bridge == (previous?.event.family == .bridge)
        let hook = sameHook ? "" : (step.hook?.rawValue ?? "?")
        var where_ = e.kind == .log && e.table.isEmpty && e.chain.isEmpty ? "LOG" : "\(e.table):\(e.chain)"
        if bridge { where_ = "bridge " + where_ }
        var what = e.kind.rawValue
        switch e.rule {
        case .number(let n): what = e.kind == .rule ? "rule \(n)" : "\(e.kind.rawValue) \(n)"
        case .handle(let h): what = "\(e.kind.rawValue) #\(h)"
        case nil: break
        }
        var verdict = step.verdict?.description ?? ""
        if step.verdictInferred && !verdict.isEmpty { verdict += "*" }
        let verdictStyle: Style = step.verdict == .drop ? .red : (step.verdict == .accept ? .green : .dim)
        var s = "  \(time)" + paint(pad(hook, 11), .blue) + " " + pad(where_, 22) + " " + pad(what, 12) + " "
        s += paint(pad(verdict, 10), verdictStyle)
        var details: [String] = []
        let ifaces = interfaces(e)
        if ifaces != previous.map({ interfaces($0.event) }) && !ifaces.isEmpty { details.append(ifaces) }
        // An ebtables line shows no TTL: the first IP step after one shows it afresh.
        let compared =
            !bridge && previous?.event.family == .bridge && previous?.event.headerValue.ttl == nil
            ? nil : previous?.event.header
        details += changes(e.header, compared)
        if previous == nil, let folded, let h = e.header {
            // Rewrites made between the folded steps and this one (the TTL was given above).
            details += changes(h, folded).filter { !$0.hasPrefix("TTL") && !$0.hasPrefix("MARK") }
        }
        if let prefix = e.prefix { details.append("prefix \"\(prefix)\"") }
        if let text = e.ruleText { details.append(paint(text, .dim)) }
        if !details.isEmpty { s += " " + details.joined(separator: "  ") }
        return s.trimmingTrailingSpaces()
    }

    func interfaces(_ e: TraceEvent) -> String {
        var parts: [String] = []
        if let i = e.inIface, !i.isEmpty { parts.append("in \(i)") }
        if let o = e.outIface, !o.isEmpty { parts.append("out \(o)") }
        if let p = e.physIn { parts.append("physin \(p)") }
        if let p = e.physOut { parts.append("physout \(p)") }
        return parts.joined(separator: " ")
    }

    func changes(_ h: PacketHeader?, _ p: PacketHeader?) -> [String] {
        guard let h else { return [] }
        var out: [String] = []
        guard let p else {
            if let ttl = h.ttl { out.append("TTL \(ttl)") }
            if let m = h.mark { out.append("MARK 0x\(String(m, radix: 16))") }
            return out
        }
        if h.src != p.src || h.sport != p.sport {
            out.append(paint("SRC \(endpoint(p.src, p.sport)) → \(endpoint(h.src, h.sport))", .yellow))
        }
        if h.dst != p.dst || h.dport != p.dport {
            out.append(paint("DST \(endpoint(p.dst, p.dport)) → \(endpoint(h.dst, h.dport))", .yellow))
        }
        if let a = p.ttl, let b = h.ttl, a != b { out.append("TTL \(a) → \(b)") }
        if let b = h.mark, b != p.mark {
            out.append(p.mark == nil ? "MARK \(hexMark(b))" : "MARK \(hexMark(p.mark)) → \(hexMark(b))")
        }
        return out
    }

    func natLine(_ nat: NatRewrite) -> String {
        let field = nat.field.uppercased()
        var target = nat.type.rawValue.uppercased()
        if nat.direction == "reply" { target = "reverse " + target }
        var origin = nat.at
        if let rule = nat.rule { origin += " \(rule)" }
        let text =
            "NAT  \(field) \(nat.before) → \(nat.after ?? "?")  (\(target), \(origin); evidence \(nat.evidence.rawValue))"
        return paint(text, .yellow)
    }

    func endpoint(_ a: IPAddress?, _ port: UInt16?) -> String {
        guard let a else { return "?" }
        return Endpoint(address: a, port: port).description
    }

    func hexMark(_ m: UInt32?) -> String { m.map { "0x" + String($0, radix: 16) } ?? "0" }

    func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }

    func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        // A garbled line's time can be far past what an Int64 of units holds (trapping, not wrapping).
        guard let n = Int64(exactly: (v * scale).rounded()) else { return "\(v)" }
        let whole = n / Int64(scale)
        var frac = String(n % Int64(scale))
        frac = String(repeating: "0", count: max(0, digits - frac.count)) + frac
        return "\(whole).\(frac)"
    }

    func format(_ v: Double) -> String { fixed(v, 2) }

    /// Wall-clock seconds as `HH:MM:SS.ffffff UTC`.
    static func clock(_ seconds: Double) -> String {
        guard let micros = Int64(exactly: (seconds * 1_000_000).rounded()) else { return "\(seconds) s" }
        let day = ((micros % 86_400_000_000) + 86_400_000_000) % 86_400_000_000
        let s = day / 1_000_000
        func two(_ n: Int64) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let frac = String(day % 1_000_000)
        let micro = String(repeating: "0", count: 6 - frac.count) + frac
        return "\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60)).\(micro) UTC"
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        // Fast path on bytes: trailing spaces after an ASCII byte are each their own Character
        // (only non-ASCII "prepend" characters join a following space into one cluster).
        let utf8 = self.utf8
        var end = utf8.endIndex
        while end > utf8.startIndex, utf8[utf8.index(before: end)] == UInt8(ascii: " ") {
            end = utf8.index(before: end)
        }
        if end == utf8.endIndex { return self }
        if end == utf8.startIndex || utf8[utf8.index(before: end)] < 0x80 {
            return String(Substring(utf8[..<end]))
        }
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
