import PathTraceCore

/// The text timeline of DESIGN.md: a block per walk, a line per step, NAT rewrites highlighted.
///
/// Walks are written as bytes straight into a `JSONWriter`'s buffer (a replay prints millions of
/// steps); the String-returning calls give the same bytes, for tests and one-off output.
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
        let writer = JSONWriter(capacity: 1024)
        write(walk, to: writer)
        return String(decoding: writer.buffer, as: UTF8.self)
    }

    /// Appends the walk's block, the bytes `render` returns, to `writer`.
    public func write(_ walk: PacketWalk, to writer: JSONWriter) {
        let out = TextOutput(writer: writer, color: options.color)
        walk.steps.withUnsafeBufferPointer { steps in
            // Own steps are skipped in place, not removed: the header keeps the packet as it entered,
            // which a folded step may be the only one to show. Most walks have none to look up.
            let folded =
                options.verbose || !steps.indices.contains(where: { TextTimeline.mayBeOwn(steps.address($0)) })
                ? nil : OwnTraceSteps(walk: walk)
            header(walk, steps: steps, out)
            out.newline()
            if !walk.interfaces.isEmpty { devices(walk.interfaces, out) }
            let anyInferred = self.steps(walk, steps, folded: folded, out)
            walk.nat.withUnsafeBufferPointer { nat in
                for i in nat.indices {
                    out.lit("  ")
                    natLine(nat.address(i), out)
                    out.newline()
                }
            }
            if let reply = walk.replyTo {
                out.lit("  ")
                out.open(.cyan)
                out.lit("reply in the connection packet ")
                out.int(reply)
                out.lit(" opened")
                out.close()
                out.newline()
            } else if let first = walk.connection {
                out.lit("  ")
                out.open(.cyan)
                out.lit("later packet of the connection packet ")
                out.int(first)
                out.lit(" opened")
                out.close()
                out.newline()
            }
            for note in walk.notes {
                out.lit("  ")
                out.open(.dim)
                out.lit("note: ")
                out.text(note)
                out.close()
                out.newline()
            }
            if anyInferred {
                out.lit("  ")
                out.open(.dim)
                out.lit("* verdict inferred: the source does not print verdicts")
                out.close()
                out.newline()
            }
            vanished(walk.vanished, out)
        }
    }

    /// Whether a step may be in pathtrace's own table: the cheap first look before `isOwn`.
    @inline(__always) static func mayBeOwn(_ step: UnsafePointer<WalkStep>) -> Bool {
        step.pointee.event.tableName.bytes.first == UInt8(ascii: "p")
    }

    /// Whether a step is in pathtrace's own table (`OwnTraceSteps.isOwn`).
    @inline(__always) static func isOwn(_ step: UnsafePointer<WalkStep>) -> Bool {
        mayBeOwn(step) && OwnTraceSteps.isOwn(step.pointee.event)
    }

    /// The time notes and a line per step shown, reading the steps in place.
    /// Returns whether a step shown has an inferred verdict.
    private func steps(
        _ walk: PacketWalk, _ steps: UnsafeBufferPointer<WalkStep>, folded: OwnTraceSteps?, _ out: TextOutput
    ) -> Bool {
        // Only a kernel's timestamps give a time column: a receive time would print +0.000000 for
        // every step of a batch, a false zero.
        var t0: Double?
        for i in steps.indices {
            let step = steps.address(i)
            if step.pointee.event.time != nil && step.pointee.event.timeBasis == .kernel
                && (folded == nil || !TextTimeline.isOwn(step))
            {
                t0 = step.pointee.event.time
                break
            }
        }
        var received: Double?
        if t0 == nil {
            for i in steps.indices where steps.address(i).pointee.event.time != nil {
                received = steps.address(i).pointee.event.time
                break
            }
        }
        if let received {
            out.lit("  ")
            out.open(.dim)
            out.lit("received ")
            out.text(TextTimeline.clock(received))
            out.lit(" (no time per step: the records carry none)")
            out.close()
            out.newline()
        }
        if let folded {
            out.lit("  ")
            out.open(.dim)
            out.lit("traced from ")
            out.name(folded.table)
            out.lit(" (")
            for (i, chain) in folded.chains.enumerated() {
                if i > 0 { out.lit(", ") }
                out.name(chain)
            }
            out.lit(": ")
            out.int(folded.count)
            if folded.count == 1 { out.lit(" step") } else { out.lit(" steps") }
            out.lit("; --verbose shows them)")
            out.close()
            out.newline()
        }
        var previous: UnsafePointer<WalkStep>?
        var anyInferred = false
        let places = out.writer.textPlaces
        // An --explain sentence starts under the hook column, or under `table:chain` without a time column.
        let indent = t0 == nil ? 14 : 13
        // The addresses of the last folded step's header: the first step shown tells what changed since.
        var foldedEnds: Ends?
        for index in steps.indices {
            let step = steps.address(index)
            if folded != nil, TextTimeline.isOwn(step) {
                if step.pointee.event.hasHeader { foldedEnds = Ends(step) }
                continue
            }
            line(step, previous: previous, t0: t0, folded: previous == nil ? foldedEnds : nil, places: places, out)
            out.newline()
            if step.pointee.verdictInferred { anyInferred = true }
            if options.explain {
                out.spaces(indent)
                out.open(.dim)
                out.text(Explain.step(walk, at: index))
                out.close()
                out.newline()
            }
            previous = step
        }
        return anyInferred
    }

    /// `  device virbr0  bridge (ports vnet0)  192.168.122.1/24`, one line per device the walk used.
    func devices(_ interfaces: [WalkInterface], _ out: TextOutput) {
        let width = interfaces.map(\.name.count).max() ?? 0
        for i in interfaces {
            out.lit("  ")
            out.open(.dim)
            out.lit("device ")
            let start = out.position
            out.text(i.name)
            out.pad(from: start, to: width)
            out.close()
            out.lit("  ")
            out.text(i.role)
            var first = true
            for address in i.addresses where !address.hasPrefix("fe80:") {
                out.lit(first ? "  " : " ")
                out.text(address)
                first = false
            }
            out.newline()
        }
    }

    /// Why the packet went no further, most likely first, each with the command that would change it.
    public func vanished(_ causes: [Vanished]) -> String {
        let writer = JSONWriter(capacity: 256)
        vanished(causes, TextOutput(writer: writer, color: options.color))
        return String(decoding: writer.buffer, as: UTF8.self)
    }

    func vanished(_ causes: [Vanished], _ out: TextOutput) {
        for v in causes {
            out.lit("  ")
            out.open(.red)
            out.lit("vanished: ")
            out.text(v.cause.rawValue)
            out.close()
            if let ns = v.netns {
                out.lit(" in ")
                out.text(ns)
            }
            out.lit(v.guess ? " (a guess): " : ": ")
            out.text(v.detail)
            out.newline()
            if let fix = v.fix {
                out.lit("    fix: ")
                out.text(fix)
                out.newline()
            }
        }
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

    /// `packet 3  ipv4 tcp 10.0.0.1:1234 → 10.0.0.2:80 [SYN]  path forward  verdict accept`.
    func header(_ walk: PacketWalk, steps: UnsafeBufferPointer<WalkStep>, _ out: TextOutput) {
        out.open(.bold)
        out.lit("packet ")
        out.int(walk.packet)
        out.close()
        out.lit("  ")
        out.lit(TextTimeline.word(walk.family))
        out.byte(UInt8(ascii: " "))
        if let index = walk.firstHeaderIndex {
            flow(steps.address(index), out)
        } else if !steps.isEmpty, let prefix = steps.address(0).pointee.event.prefixName {
            out.lit("log \"")
            out.name(prefix)
            out.byte(UInt8(ascii: "\""))
        }
        out.lit("  path ")
        out.open(.bold)
        out.lit(TextTimeline.word(walk.path))
        out.close()
        out.lit("  verdict ")
        out.open(walk.verdict == .accept ? .green : (walk.verdict == .drop ? .red : .yellow))
        out.lit(TextTimeline.word(walk.verdict))
        out.close()
        if walk.confidence < 1 {
            out.lit("  confidence ")
            out.fixed(walk.confidence, 2)
        }
        if let ns = walk.netns {
            out.lit("  netns ")
            out.text(ns)
        }
    }

    /// The flow of a step's packet: protocol, endpoints, TCP flags, ICMP type (or an ARP frame's MACs).
    func flow(_ step: UnsafePointer<WalkStep>, _ out: TextOutput) {
        let h = Ends(step)
        let macProto = step.pointee.event.headerValue.macProto
        if h.src == nil, h.dst == nil, let from = step.pointee.event.headerValue.macSrcName,
            let to = step.pointee.event.headerValue.macDstName
        {
            // A frame that is not IP (ARP): its EtherType and MAC addresses.
            if macProto == 0x0806 {
                out.lit("arp")
            } else if let type = macProto {
                out.lit("ethertype 0x")
                out.hex(type)
            } else {
                out.byte(UInt8(ascii: "?"))
            }
            out.byte(UInt8(ascii: " "))
            out.name(from)
            out.lit(" → ")
            out.name(to)
            return
        }
        // Through one position, names as literals: a walk's header line (issue 10, scripts/icount.sh (text)).
        var o = out.writer.out()
        if let p = step.pointee.event.headerValue.proto {
            // `IPProtocol.name`: the known names, else the number.
            if let name = JSONNames.proto(p) { o.raw(name) } else { o.unsigned(UInt64(p)) }
        } else {
            o.raw(macProto == 0x0806 ? "arp" : "?")
        }
        o.byte(UInt8(ascii: " "))
        o.endpoint(h.src, h.sport)
        o.raw(" → ")
        o.endpoint(h.dst, h.dport)
        let flags = step.pointee.event.headerValue.tcpFlags
        if !flags.isEmpty {
            o.raw(" [")
            o.tcpFlagWords(flags)
            o.byte(UInt8(ascii: "]"))
        }
        if let t = step.pointee.event.headerValue.icmpType {
            o.raw(" type ")
            o.unsigned(UInt64(t))
            o.raw(" code ")
            o.unsigned(UInt64(step.pointee.event.headerValue.icmpCode ?? 0))
        }
        out.writer.commit(o)
    }

    // The raw values of the enums a line prints, as literals (no String per step).

    static func word(_ f: Family) -> StaticString {
        switch f {
        case .ipv4: "ipv4"
        case .ipv6: "ipv6"
        case .arp: "arp"
        case .bridge: "bridge"
        }
    }

    static func word(_ p: PathClass) -> StaticString {
        switch p {
        case .input: "input"
        case .forward: "forward"
        case .output: "output"
        case .bridged: "bridged"
        case .incomplete: "incomplete"
        }
    }

    static func word(_ v: WalkVerdict) -> StaticString {
        switch v {
        case .accept: "accept"
        case .drop: "drop"
        case .queue: "queue"
        case .unknown: "unknown"
        }
    }

    static func word(_ h: Hook) -> StaticString {
        switch h {
        case .prerouting: "PREROUTING"
        case .input: "INPUT"
        case .forward: "FORWARD"
        case .output: "OUTPUT"
        case .postrouting: "POSTROUTING"
        case .brouting: "BROUTING"
        }
    }

    static func word(_ k: StepKind) -> StaticString {
        switch k {
        case .rule: "rule"
        case .return: "return"
        case .policy: "policy"
        case .log: "log"
        }
    }

    /// A header's addresses and ports (what NAT rewrites), read in place.
    struct Ends {
        var src: IPAddress?
        var sport: UInt16?
        var dst: IPAddress?
        var dport: UInt16?

        @inline(__always) init(_ step: UnsafePointer<WalkStep>) {
            src = step.pointee.event.headerValue.src
            sport = step.pointee.event.headerValue.sport
            dst = step.pointee.event.headerValue.dst
            dport = step.pointee.event.headerValue.dport
        }
    }

    /// One step: time, hook, `table:chain`, rule, verdict, then what changed since the step before.
    ///
    /// The columns are written through one `JSONOut` position (the line's fixed part is under its
    /// slack), and padded by the bytes written where a column holds only literals and digits, by the
    /// characters `JSONOut.characters` counts where it holds a name: a replay prints a line per step
    /// (scripts/bench-replay.sh, text).
    func line(
        _ step: UnsafePointer<WalkStep>, previous: UnsafePointer<WalkStep>?, t0: Double?, folded: Ends?,
        places: StepTextCache, _ out: TextOutput
    ) {
        let start = out.position
        let color = out.color
        var o = out.writer.out()
        o.raw("  ")
        // No time column at all when the walk has no kernel time (t0 nil); a blank for a step without one.
        if let t0 {
            if let t = step.pointee.event.time, step.pointee.event.timeBasis == .kernel {
                // A step logged before the walk's first (shuffled lines) is that much earlier: `-0.143114`.
                let offset = t - t0
                let before = offset < 0 && (offset.magnitude * 1_000_000).rounded() >= 1
                o.byte(before ? UInt8(ascii: "-") : UInt8(ascii: "+"))
                if !TextTimeline.micros(offset.magnitude, to: &o) {
                    out.writer.commit(o)
                    out.text(TextTimeline.fixed(offset.magnitude, 6))
                    o = out.writer.out()
                }
                o.raw("  ")
            } else {
                o.spaces(11)
            }
        }
        // A bridge hook and the IP hook of the same name are two hooks.
        let bridge = step.pointee.event.family == .bridge
        let sameHook =
            step.pointee.hook == previous?.pointee.hook && bridge == (previous?.pointee.event.family == .bridge)
        // The hook, place, rule and verdict columns repeat from walk to walk: copied when printed before.
        if var key = StepPlaceKey(step) {
            key.codes |= (sameHook ? 1 << 48 : 0) | (color ? 1 << 49 : 0)
            if let text = places.text(key) {
                o.copyMidsize(text)
            } else {
                let begin = o.offset
                TextTimeline.place(step, sameHook: sameHook, bridge: bridge, color: color, &o)
                places.keep(key, o.base + begin, count: o.offset - begin)
            }
        } else {
            TextTimeline.place(step, sameHook: sameHook, bridge: bridge, color: color, &o)
        }
        // The verdict column's padding is held back: the first detail writes it before its separator,
        // and a line with none ends without it, with no trailing spaces left to look for (~35
        // instructions a line, issue 10, scripts/icount.sh (text)).
        let pad = TextTimeline.heldPadding(o)
        o.p -= pad
        out.writer.commit(o)
        let wrote = details(step, previous: previous, folded: folded, places: places, pad: pad, out)
        if wrote || pad == 0, out.writer.endsInSpace { out.trimTrailingSpaces(from: start) }
    }

    /// How many spaces end what `o` wrote (its last 8 bytes hold them), when fewer than 8 and after
    /// an ASCII byte (so that dropping them is what `trimTrailingSpaces` does); else 0.
    @inline(__always) static func heldPadding(_ o: JSONOut) -> Int {
        // Spaces XORed with spaces are the high zero bytes of the little-endian word.
        let word = UnsafeRawPointer(o.p - 8).loadUnaligned(as: UInt64.self) ^ 0x2020_2020_2020_2020
        let spaces = word.leadingZeroBitCount / 8
        guard spaces < 8, word >> UInt64(63 - 8 * spaces) & 1 == 0 else { return 0 }
        return spaces
    }

    /// The hook, `table:chain`, rule and verdict columns (what `StepPlaceKey`, whether the hook is the
    /// step before's, and `color` decide).
    static func place(
        _ step: UnsafePointer<WalkStep>, sameHook: Bool, bridge: Bool, color: Bool, _ o: inout JSONOut
    ) {
        let kind = step.pointee.event.kind
        if color { o.raw("\u{1B}[34m") }
        if sameHook {
            o.spaces(11)
        } else if let hook = step.pointee.hook {
            let word = TextTimeline.word(hook)
            o.raw(word)
            o.spaces(11 - word.utf8CodeUnitCount)
        } else {
            o.raw("?          ")
        }
        if color { o.raw("\u{1B}[0m") }
        o.byte(UInt8(ascii: " "))
        var column = o.offset
        if bridge { o.raw("bridge ") }
        let table = step.pointee.event.tableName
        let chain = step.pointee.event.chainName
        if kind == .log && table.isEmpty && chain.isEmpty {
            o.raw("LOG")
        } else {
            o.bytes(of: table)
            o.byte(UInt8(ascii: ":"))
            o.bytes(of: chain)
        }
        o.pad(from: column, to: 22, ascii: false)
        o.byte(UInt8(ascii: " "))
        column = o.offset
        o.raw(TextTimeline.word(kind))
        switch step.pointee.event.rule {
        case .number(let n):
            o.byte(UInt8(ascii: " "))
            o.integer(n)
        case .handle(let h):
            o.raw(" #")
            o.unsigned(h)
        case nil: break
        }
        o.pad(from: column, to: 12, ascii: true)
        o.byte(UInt8(ascii: " "))
        let verdict = step.pointee.verdict
        if color { o.raw(verdict == .drop ? "\u{1B}[31m" : (verdict == .accept ? "\u{1B}[32m" : "\u{1B}[2m")) }
        column = o.offset
        var ascii = true
        if let verdict {
            ascii = TextTimeline.stepVerdict(verdict, &o)
            // An empty `other` verdict prints nothing, not even the mark.
            if step.pointee.verdictInferred && o.offset > column { o.byte(UInt8(ascii: "*")) }
        }
        o.pad(from: column, to: 10, ascii: ascii)
        if color { o.raw("\u{1B}[0m") }
    }

    /// `v` (≥ 0) with six decimals, as `fixed(v, 6)` writes it; false (nothing written) otherwise.
    @inline(__always) static func micros(_ v: Double, to o: inout JSONOut) -> Bool {
        let x = v * 1_000_000
        let n: UInt64
        if x >= 0, x < 2_251_799_813_685_248 {
            // `rounded(x)`, read from the sum's bits: its exponent is 52, so its low mantissa bits are
            // the integer (no checked conversion).
            let magic = 6_755_399_441_055_744.0
            let sum = x + magic
            n = sum.bitPattern &- magic.bitPattern &+ ((sum - magic) - x == -0.5 ? 1 : 0)
        } else {
            let scaled = TextTimeline.rounded(x)
            guard scaled >= 0, scaled < 9.2e18 else { return false }
            n = UInt64(scaled)
        }
        let seconds = n / 1_000_000
        o.seconds(seconds)
        o.sixDigits(n &- seconds &* 1_000_000)
        return true
    }

    /// `x.rounded()` (halves away from zero), without calling libc's `round` below 2^51: adding 1.5 ×
    /// 2^52 and taking it off again rounds to the nearest integer, halves to even, which for a
    /// positive half is one less. A tenth of the text line's own cost (issue 10, scripts/icount.sh (text)).
    @inline(__always) static func rounded(_ x: Double) -> Double {
        guard x >= 0, x < 2_251_799_813_685_248 else { return x.rounded() }
        let magic = 6_755_399_441_055_744.0
        let r = (x + magic) - magic
        return r - x == -0.5 ? r + 1 : r
    }

    /// What `StepVerdict.description` says, through a position; returns whether it was only literals
    /// (a name may be wider or narrower than its bytes: a CR LF is one character).
    static func stepVerdict(_ v: StepVerdict, _ o: inout JSONOut) -> Bool {
        switch v {
        case .accept: o.raw("accept")
        case .drop: o.raw("drop")
        case .queue: o.raw("queue")
        case .stolen: o.raw("stolen")
        case .continue: o.raw("continue")
        case .return: o.raw("return")
        case .break: o.raw("break")
        case .jump(let c):
            o.raw("jump ")
            o.bytes(of: c)
            return false
        case .goto(let c):
            o.raw("goto ")
            o.bytes(of: c)
            return false
        case .other(let s):
            o.bytes(of: s)
            return false
        }
        return true
    }

    /// What goes before a step's detail: one space before the first, two between the others. A value
    /// rather than a closure over a flag, which the optimiser kept on the heap.
    struct Separator {
        /// Unretained: the line's caller holds the writer, and a strong copy was a retain and a release
        /// per step, an unowned one a retain and a release per use (issue 10, scripts/icount.sh (text)).
        let writer: Unmanaged<JSONWriter>
        var any = false
        /// The spaces the line held back (`TextTimeline.heldPadding`), written before the first separator.
        let pad: Int

        @inline(__always) init(out: TextOutput, pad: Int) {
            writer = .passUnretained(out.writer)
            self.pad = pad
        }

        @inline(__always) mutating func callAsFunction() {
            let any = self.any
            let pad = self.pad
            writer._withUnsafeGuaranteedRef { w in
                if any {
                    w.raw("  ")
                } else {
                    var o = w.out()
                    o.spaces(pad + 1)
                    w.commit(o)
                }
            }
            self.any = true
        }
    }

    /// The step's details, two spaces apart: devices when they changed, header changes, prefix, rule text.
    /// Returns whether it wrote any.
    func details(
        _ step: UnsafePointer<WalkStep>, previous: UnsafePointer<WalkStep>?, folded: Ends?, places: StepTextCache,
        pad: Int, _ out: TextOutput
    ) -> Bool {
        var next = Separator(out: out, pad: pad)
        if let word = StepPlaceKey.interfaces(step) {
            // The names by id: whether there are any, whether they are the step before's, and their
            // text are each asked of the writer's cache (one hash) rather than of the names: ~330
            // instructions a step (issue 10, scripts/icount.sh (text)).
            if TextTimeline.hasInterfaces(word),
                previous.map({ !sameInterfaces(step, word, $0, places: places) }) ?? true
            {
                next()
                interfaces(step, word, places: places, out)
            }
        } else if hasInterfaces(step), previous.map({ !sameInterfaces(step, $0) }) ?? true {
            next()
            interfaces(step, out)
        }
        if step.pointee.event.hasHeader {
            // An ebtables line shows no TTL: the first IP step after one shows it afresh.
            if let previous, previous.pointee.event.hasHeader,
                step.pointee.event.family == .bridge || previous.pointee.event.family != .bridge
                    || previous.pointee.event.headerValue.ttl != nil
            {
                // Most steps show the packet as the step before did: nothing to tell, found in one
                // compare here rather than after a call (~25 instructions a step, issue 10,
                // scripts/icount.sh (text)).
                if !WalkStep.sameHeaderBytes(step, previous)
                    && !step.pointee.event.headerValue.sameStepFields(as: previous.pointee.event.headerValue)
                {
                    changes(step, since: previous, &next, out)
                }
            } else {
                firstValues(step, &next, out)
            }
            if previous == nil, let folded {
                // Rewrites made between the folded steps and this one (the TTL was given above).
                addressChanges(Ends(step), since: folded, &next, out)
            }
        }
        if step.pointee.event.hasPrefix, let prefix = step.pointee.event.prefixName {
            next()
            out.lit("prefix \"")
            out.name(prefix)
            out.byte(UInt8(ascii: "\""))
        }
        if step.pointee.event.hasRuleText, let text = step.pointee.event.ruleTextName {
            next()
            out.open(.dim)
            out.name(text)
            out.close()
        }
        return next.any
    }

    func hasInterfaces(_ s: UnsafePointer<WalkStep>) -> Bool {
        s.pointee.event.inIfaceName.isPresent || s.pointee.event.outIfaceName.isPresent
            || s.pointee.event.physInName != nil || s.pointee.event.physOutName != nil
    }

    /// `hasInterfaces` of a step whose interfaces' slots are `word` (`StepPlaceKey.interfaces`): an in
    /// or out name that is there and not empty (id 0), or a physin or physout.
    @inline(__always) static func hasInterfaces(_ word: UInt64) -> Bool {
        let none: UInt64 = 0xFFFF
        let inSlot = word & none
        let outSlot = word >> 16 & none
        return (inSlot != none && inSlot != 0) || (outSlot != none && outSlot != 0) || word >> 32 != 0xFFFF_FFFF
    }

    /// `sameInterfaces` of `a`, whose slots are `word`, and `b`, kept in `places` by both words (names
    /// by id never change): key codes bit 62.
    @inline(__always) func sameInterfaces(
        _ a: UnsafePointer<WalkStep>, _ word: UInt64, _ b: UnsafePointer<WalkStep>, places: StepTextCache
    ) -> Bool {
        guard let other = StepPlaceKey.interfaces(b) else { return sameInterfaces(a, b) }
        if other == word { return true }
        let key = StepPlaceKey(names: word, interfaces: other, rule: 0, codes: 1 << 63 | 1 << 62)
        if let kept = places.text(key), kept.count == 1 { return kept[0] == 1 }
        var same: UInt8 = sameInterfaces(a, b) ? 1 : 0
        places.keep(key, &same, count: 1)
        return same == 1
    }

    /// `interfaces(_:_:)` of a step whose slots are `word`, kept in `places` by it: key codes bit 61.
    @inline(__always) func interfaces(
        _ s: UnsafePointer<WalkStep>, _ word: UInt64, places: StepTextCache, _ out: TextOutput
    ) {
        let key = StepPlaceKey(names: 0, interfaces: word, rule: 0, codes: 1 << 63 | 1 << 61)
        if let kept = places.text(key) {
            var o = out.writer.out()
            o.copy(kept)
            out.writer.commit(o)
            return
        }
        let start = out.position
        interfaces(s, out)
        let written = out.writer.buffer
        places.keep(
            key, written.baseAddress.unsafelyUnwrapped.assumingMemoryBound(to: UInt8.self) + start,
            count: written.count - start)
    }

    /// Whether two steps' `in … out … physin … physout …` texts are equal Strings.
    func sameInterfaces(_ a: UnsafePointer<WalkStep>, _ b: UnsafePointer<WalkStep>) -> Bool {
        // The same name ids: the same names (the common case, compared as one word).
        if let x = StepPlaceKey.interfaces(a), x == StepPlaceKey.interfaces(b) { return true }
        // Equal fields give equal texts; different fields give different texts unless a name holds
        // a space (`in "x out y"` reads as `in x out y`): only then are the texts built and compared.
        // Names compare by id, which is byte equality; Strings compare canonically equivalent text
        // as equal too, so names that are not ASCII are compared as Strings.
        if a.pointee.event.inIfaceName == b.pointee.event.inIfaceName
            && a.pointee.event.outIfaceName == b.pointee.event.outIfaceName
            && a.pointee.event.physInName == b.pointee.event.physInName
            && a.pointee.event.physOutName == b.pointee.event.physOutName
        {
            return true
        }
        func given(_ n: Name?) -> Name? { n.isPresent ? n : nil }
        func same(_ x: Name?, _ y: Name?) -> Bool {
            if x == y { return true }
            guard let x, let y, !x.isASCII || !y.isASCII else { return false }
            return x.string == y.string
        }
        if same(given(a.pointee.event.inIfaceName), given(b.pointee.event.inIfaceName))
            && same(given(a.pointee.event.outIfaceName), given(b.pointee.event.outIfaceName))
            && same(a.pointee.event.physInName, b.pointee.event.physInName)
            && same(a.pointee.event.physOutName, b.pointee.event.physOutName)
        {
            return true
        }
        if StepPlaceKey.interfaceNamesHaveSpace(a) || StepPlaceKey.interfaceNamesHaveSpace(b) {
            return interfaces(a.pointee.event) == interfaces(b.pointee.event)
        }
        return false
    }

    /// `in eth0 out eth1 physin vnet0 physout eth2`, as much as the step names.
    func interfaces(_ s: UnsafePointer<WalkStep>, _ out: TextOutput) {
        var first = true
        func part(_ label: StaticString, _ name: Name) {
            if !first { out.byte(UInt8(ascii: " ")) }
            out.lit(label)
            out.name(name)
            first = false
        }
        if let i = s.pointee.event.inIfaceName, !i.isEmpty { part("in ", i) }
        if let o = s.pointee.event.outIfaceName, !o.isEmpty { part("out ", o) }
        if let p = s.pointee.event.physInName { part("physin ", p) }
        if let p = s.pointee.event.physOutName { part("physout ", p) }
    }

    func interfaces(_ e: TraceEvent) -> String {
        var parts: [String] = []
        if let i = e.inIface, !i.isEmpty { parts.append("in \(i)") }
        if let o = e.outIface, !o.isEmpty { parts.append("out \(o)") }
        if let p = e.physIn { parts.append("physin \(p)") }
        if let p = e.physOut { parts.append("physout \(p)") }
        return parts.joined(separator: " ")
    }

    /// A header with nothing before it to compare with: its TTL and mark.
    func firstValues(_ s: UnsafePointer<WalkStep>, _ next: inout Separator, _ out: TextOutput) {
        if let ttl = s.pointee.event.headerValue.ttl {
            next()
            // Through a position: the writer's integer is a call and a check more (every walk has one).
            var o = out.writer.out()
            o.raw("TTL ")
            o.unsigned(UInt64(ttl))
            out.writer.commit(o)
        }
        if let m = s.pointee.event.headerValue.mark {
            next()
            out.lit("MARK ")
            out.hexMark(m)
        }
    }

    /// What changed from the step before: addresses and ports (highlighted), TTL, mark (the caller
    /// found that the header's shown fields differ).
    func changes(
        _ s: UnsafePointer<WalkStep>, since p: UnsafePointer<WalkStep>, _ next: inout Separator, _ out: TextOutput
    ) {
        addressChanges(Ends(s), since: Ends(p), &next, out)
        if let a = p.pointee.event.headerValue.ttl, let b = s.pointee.event.headerValue.ttl, a != b {
            next()
            out.lit("TTL ")
            out.int(a)
            out.lit(" → ")
            out.int(b)
        }
        if let b = s.pointee.event.headerValue.mark, b != p.pointee.event.headerValue.mark {
            next()
            out.lit("MARK ")
            if let a = p.pointee.event.headerValue.mark {
                out.hexMark(a)
                out.lit(" → ")
            }
            out.hexMark(b)
        }
    }

    /// `SRC a → b` and `DST a → b` when the source or destination (address or port) changed.
    func addressChanges(_ h: Ends, since p: Ends, _ next: inout Separator, _ out: TextOutput) {
        func change(_ label: StaticString, _ from: (IPAddress?, UInt16?), _ to: (IPAddress?, UInt16?)) {
            guard from.0 != to.0 || from.1 != to.1 else { return }
            next()
            out.open(.yellow)
            out.lit(label)
            out.endpoint(from.0, from.1)
            out.lit(" → ")
            out.endpoint(to.0, to.1)
            out.close()
        }
        change("SRC ", (p.src, p.sport), (h.src, h.sport))
        change("DST ", (p.dst, p.dport), (h.dst, h.dport))
    }

    /// `NAT  SRC a → b  (SNAT, nat:POSTROUTING rule 3; evidence chain)`.
    func natLine(_ p: UnsafePointer<NatRewrite>, _ out: TextOutput) {
        out.open(.yellow)
        out.lit("NAT  ")
        switch p.pointee.field {
        case "src": out.lit("SRC")
        case "dst": out.lit("DST")
        default: out.text(p.pointee.field.uppercased())
        }
        // The endpoints through a position, from their address and port: `before` and `after` were a
        // String each to make and free (~1,000 instructions a rewrite, issue 10, scripts/icount.sh (text)).
        var o = out.writer.out()
        o.byte(UInt8(ascii: " "))
        o.endpoint(p.pointee.beforeEndpoint.address, p.pointee.beforeEndpoint.port)
        o.raw(" → ")
        if let after = p.pointee.afterEndpoint {
            o.endpoint(after.address, after.port)
        } else {
            o.byte(UInt8(ascii: "?"))
        }
        out.writer.commit(o)
        out.lit("  (")
        if p.pointee.direction == "reply" { out.lit("reverse ") }
        switch p.pointee.type {
        case .dnat: out.lit("DNAT")
        case .snat: out.lit("SNAT")
        case .masquerade: out.lit("MASQUERADE")
        case .redirect: out.lit("REDIRECT")
        }
        out.lit(", ")
        out.text(p.pointee.at)
        switch p.pointee.rule {
        case .number(let n):
            out.lit(" rule ")
            out.int(n)
        case .handle(let h):
            out.lit(" handle ")
            out.int(h)
        case nil: break
        }
        out.lit("; evidence ")
        // The raw value as a literal (`JSONNames`), not a String to copy.
        out.lit(JSONNames.name(p.pointee.evidence))
        out.byte(UInt8(ascii: ")"))
        out.close()
    }

    static func fixed(_ v: Double, _ digits: Int) -> String {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        // A garbled line's time can be far past what an Int64 of units holds (trapping, not wrapping).
        guard let n = Int64(exactly: (v * scale).rounded()) else { return "\(v)" }
        if n < 0 { return "-" + fixed(-v, digits) }
        let whole = n / Int64(scale)
        var frac = String(n % Int64(scale))
        frac = String(repeating: "0", count: max(0, digits - frac.count)) + frac
        return "\(whole).\(frac)"
    }

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
