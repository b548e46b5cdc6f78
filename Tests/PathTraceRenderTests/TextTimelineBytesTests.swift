import PathTraceCore
import Testing

@testable import PathTraceRender

/// The text timeline writes bytes and counts columns from them; what a user reads must not change: the
/// same text as the String-built timeline for names that are not plain ASCII (combining marks, CR LF,
/// Arabic signs that take the space after them into their character, flags, emoji sequences).
@Suite struct TextTimelineBytesTests {
    /// Names whose character count differs from their byte or scalar count, or that end in spaces.
    static let names = [
        "eth0", "filter", "filtér", "e\u{301}\u{301}x", "\u{301}abc", "a\r\nb", "\r", "🇩🇪🇫🇷", "👩‍👩‍👧", "한국어",
        "\u{600}", "x\u{600}", "\u{600} ", "sp ace", "in x out y", "trail  ", "", "ﬃ", "A\u{30A}",
        "abcdefghijklmnopqrstuvwxyz0123456789", "\u{1100}\u{1161}\u{11A8}",
    ]

    @Test func trickyNamesPadAndTrimAsStringsDid() {
        var rng = Generator(seed: 7)
        for n in 0..<400 {
            let walk = rng.walk(packet: n + 1)
            for options in [
                RenderOptions(), RenderOptions(color: true), RenderOptions(verbose: true),
                RenderOptions(color: true, explain: true),
            ] {
                let bytes = TextTimeline(options: options).render(walk)
                let strings = StringTimeline(options: options).render(walk)
                #expect(bytes == strings, "walk \(n + 1), color \(options.color), verbose \(options.verbose)")
                if bytes != strings { return }
            }
        }
    }

    @Test func literalWordsAreTheRawValues() {
        func same(_ word: StaticString, _ raw: String) { #expect(word.description == raw) }
        for f in Family.allCases { same(TextTimeline.word(f), f.rawValue) }
        for h in Hook.allCases { same(TextTimeline.word(h), h.rawValue) }
        for p in [PathClass.input, .forward, .output, .bridged, .incomplete] { same(TextTimeline.word(p), p.rawValue) }
        for v in [WalkVerdict.accept, .drop, .queue, .unknown] { same(TextTimeline.word(v), v.rawValue) }
        for k in [StepKind.rule, .return, .policy, .log] { same(TextTimeline.word(k), k.rawValue) }
    }

    /// Shuffled lines can put a step before the walk's first: its offset is negative, with the sign in
    /// front (`+0.-143114` before), and less than half a microsecond is no offset at all.
    @Test func aStepBeforeTheFirstHasANegativeOffset() {
        var walk = PacketWalk(packet: 1, family: .ipv4)
        for (line, time) in [(1, 10.5), (2, 10.356886), (3, 10.5000004), (4, 10.4999996)] {
            var e = TraceEvent(
                source: SourcePosition(file: "t", line: line), origin: .kernelTrace, family: .ipv4, table: "filter",
                chain: "INPUT", kind: .rule)
            e.time = time
            walk.steps.append(WalkStep(event: e, hook: .input, verdict: .continue, verdictInferred: false))
        }
        let offsets = TextTimeline(options: RenderOptions()).render(walk).split(separator: "\n").dropFirst()
            .map { $0.split(separator: " ").first.map(String.init) }
        #expect(offsets == ["+0.000000", "-0.143114", "+0.000000", "+0.000000"])
    }

    /// The verdict column's padding is held back until a detail follows: then it is there before it,
    /// and a line with no details ends at its verdict.
    @Test func detailsFollowThePaddedVerdictAndALineWithoutEndsAtIt() {
        var walk = PacketWalk(packet: 1, family: .ipv4)
        for (line, chain) in [(1, "INPUT"), (2, "CHECK")] {
            var e = TraceEvent(
                source: SourcePosition(file: "t", line: line), origin: .kernelTrace, family: .ipv4,
                table: "filter", chain: chain, kind: .rule)
            e.rule = .number(line)
            e.time = 7 + Double(line) / 1000
            e.inIface = "eth0"
            walk.steps.append(WalkStep(event: e, hook: .input, verdict: .accept, verdictInferred: false))
        }
        let lines = TextTimeline(options: RenderOptions()).render(walk).split(separator: "\n")
        #expect(lines[1] == "  +0.000000  INPUT       filter:INPUT           rule 1       accept     in eth0")
        #expect(lines[2] == "  +0.001000              filter:CHECK           rule 2       accept")
    }

    @Test func combiningMarksCountAsOneColumnAndArabicSignsKeepTheirSpace() {
        var walk = PacketWalk(packet: 1, family: .ipv4)
        var e = TraceEvent(
            source: SourcePosition(file: "t", line: 1), origin: .kernelTrace, family: .ipv4, table: "filtér",
            chain: "e\u{301}x", kind: .rule)
        e.hook = .input
        e.rule = .number(2)
        e.time = 1
        walk.steps = [WalkStep(event: e, hook: .input, verdict: .other("\u{600}"), verdictInferred: false)]
        let lines = TextTimeline(options: RenderOptions()).render(walk).split(separator: "\n")
        // `filtér:éx` is 9 characters (12 bytes): 13 spaces fill its 22 columns; the sign joins the
        // first space after it into one character, which a trailing-space trim keeps.
        #expect(
            lines[1] == "  +0.000000  INPUT       filtér:e\u{301}x" + String(repeating: " ", count: 13)
                + " rule 2       \u{600} ")
    }
}

/// Walks made of random choices among tricky names and every field the timeline prints.
struct Generator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next(_ n: Int) -> Int {
        state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
        return Int((state >> 33) % UInt64(n))
    }

    mutating func chance(_ percent: Int) -> Bool { next(100) < percent }

    mutating func name() -> String { TextTimelineBytesTests.names[next(TextTimelineBytesTests.names.count)] }

    mutating func maybeName(_ percent: Int) -> String? { chance(percent) ? name() : nil }

    mutating func address() -> IPAddress {
        chance(70)
            ? IPAddress(v4: UInt32(0x0A00_0000 + next(4)))
            : IPAddress(v6: 0xFD00_0000_0000_0000, UInt64(next(3)))
    }

    mutating func header() -> PacketHeader {
        var h = PacketHeader()
        if chance(10) {
            h.macSrc = "52:54:00:00:00:0\(next(9))"
            h.macDst = name()
            h.macProto = [0x0806, 0x86DD, nil][next(3)]
            return h
        }
        h.src = chance(95) ? address() : nil
        h.dst = chance(95) ? address() : nil
        h.proto = [6, 17, 1, 58, 200, nil][next(6)]
        h.sport = chance(70) ? UInt16(1000 + next(3)) : nil
        h.dport = chance(70) ? UInt16(80 + next(2)) : nil
        h.ttl = chance(80) ? UInt8(62 + next(3)) : nil
        h.mark = chance(30) ? UInt32(next(3) * 0x41) : nil
        h.tcpFlags = TCPFlags(rawValue: UInt16(next(512)))
        if chance(20) {
            h.icmpType = UInt8(next(9))
            h.icmpCode = chance(50) ? UInt8(next(4)) : nil
        }
        if chance(20) { h.ipID = 7 }
        return h
    }

    mutating func step(_ t: Double) -> WalkStep {
        let table = chance(8) ? "pathtrace_6fa2f802" : (chance(10) ? "" : name())
        let family: Family = chance(20) ? .bridge : .ipv4
        let kind = [StepKind.rule, .return, .policy, .log][next(4)]
        var e = TraceEvent(
            source: SourcePosition(file: "t", line: 1), origin: .kernelTrace, family: family, table: table,
            chain: chance(10) ? "" : name(), kind: kind)
        e.rule = [RuleRef.number(next(12)), .handle(UInt64(next(99))), nil][next(3)]
        e.ruleText = maybeName(20)
        e.prefix = maybeName(15)
        e.inIface = maybeName(60)
        e.outIface = maybeName(40)
        e.physIn = maybeName(10)
        e.physOut = maybeName(10)
        if chance(85) {
            e.time = chance(5) ? 1e300 : t
            e.timeBasis = chance(85) ? .kernel : .received
        }
        if chance(85) { e.header = header() }
        let verdicts: [StepVerdict?] = [
            .accept, .drop, .queue, .stolen, .continue, .return, .break, .jump(Name(name())), .goto(Name(name())),
            .other(Name(name())),
            nil,
        ]
        let hook: Hook? = chance(85) ? Hook.allCases[next(Hook.allCases.count)] : nil
        return WalkStep(event: e, hook: hook, verdict: verdicts[next(verdicts.count)], verdictInferred: chance(40))
    }

    mutating func walk(packet: Int) -> PacketWalk {
        var walk = PacketWalk(packet: packet, family: chance(80) ? .ipv4 : .bridge)
        var t = 5_121_056.357116
        for _ in 0..<next(7) {
            walk.steps.append(step(t))
            // Steps a little apart, sometimes back in time (a negative offset).
            t += Double(next(300) - 60) / 1e6
            if chance(30) && !walk.steps.isEmpty {
                // The same devices and header as the step before: only what changed is shown.
                var again = step(t)
                let before = walk.steps[walk.steps.count - 1].event
                again.event.inIface = before.inIface
                again.event.outIface = before.outIface
                again.event.physIn = before.physIn
                again.event.physOut = before.physOut
                again.event.header = before.header
                walk.steps.append(again)
            }
        }
        if chance(20) {
            // Devices a space inside a name makes read the same: `in a out b` twice, shown once.
            var first = step(t)
            first.event.inIface = "a out b"
            first.event.outIface = nil
            var second = step(t)
            second.event.inIface = "a"
            second.event.outIface = "b"
            second.event.physIn = first.event.physIn
            second.event.physOut = first.event.physOut
            walk.steps += [first, second]
        }
        walk.path = [PathClass.input, .forward, .output, .bridged, .incomplete][next(5)]
        walk.verdict = [WalkVerdict.accept, .drop, .queue, .unknown][next(4)]
        walk.netns = maybeName(20)
        walk.confidence = chance(20) ? Double(next(100)) / 100 : 1
        if chance(30) {
            var nat = NatRewrite(
                type: [NatType.dnat, .snat, .masquerade, .redirect][next(4)], field: ["src", "dst", "port"][next(3)],
                before: "10.0.0.1:80", after: chance(70) ? "[fd00::1]:8080" : nil, at: "nat:" + name(),
                evidence: [NatEvidence.observed, .chain, .rule][next(3)],
                rule: [RuleRef.number(3), .handle(9), nil][next(3)])
            if chance(30) { nat.direction = "reply" }
            walk.nat = [nat]
        }
        if chance(20) { walk.notes = [name(), "a note"] }
        if chance(20) { walk.replyTo = next(9) } else if chance(20) { walk.connection = next(9) }
        if chance(20) {
            walk.interfaces = [
                WalkInterface(name: name(), role: "bridge (ports vnet0)", addresses: ["fe80::1/64", "10.0.0.1/24"]),
                WalkInterface(name: name(), role: "veth", addresses: []),
            ]
        }
        if chance(20) {
            walk.vanished = [
                Vanished(cause: .ruleDrop, netns: maybeName(50), detail: name(), fix: maybeName(50), guess: chance(50))
            ]
        }
        return walk
    }
}

/// The timeline as it was built from Strings before it wrote bytes (92fd126), kept as the reference.
struct StringTimeline {
    var options: RenderOptions

    init(options: RenderOptions) {
        self.options = options
    }

    enum Style: String {
        case bold = "1", dim = "2", red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36"
    }

    func paint(_ s: String, _ style: Style) -> String {
        options.color ? "\u{1B}[\(style.rawValue)m\(s)\u{1B}[0m" : s
    }

    func render(_ walk: PacketWalk) -> String {
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
            let note = "received \(StringTimeline.clock(received)) (no time per step: the records carry none)"
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
    func vanished(_ causes: [Vanished]) -> String {
        causes.map { v in
            var s = "  " + paint("vanished: \(v.cause.rawValue)", .red)
            if let ns = v.netns { s += " in \(ns)" }
            s += (v.guess ? " (a guess): " : ": ") + v.detail + "\n"
            if let fix = v.fix { s += "    fix: " + fix + "\n" }
            return s
        }.joined()
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
        if let t = e.time, e.timeBasis == .kernel, let t0 {
            // Since 92fd126: a step before the first is `-0.143114` (it was `+0.-143114`).
            let offset = t - t0
            let sign = offset < 0 && (offset.magnitude * 1_000_000).rounded() >= 1 ? "-" : "+"
            time = sign + fixed(offset.magnitude, 6) + "  "
        }
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
        return trimmedTrailingSpaces(s)
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

    /// The trimming the String timeline used (PathTraceRender keeps its own internal).
    func trimmedTrailingSpaces(_ s: String) -> String {
        var t = Substring(s)
        while t.last == " " { t = t.dropLast() }
        return String(t)
    }
}
