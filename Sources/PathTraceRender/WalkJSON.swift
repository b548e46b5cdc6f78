import PathTraceCore

/// The JSON Lines contract of DESIGN.md: one object per walk; keys only grow.
///
/// Steps are read in place (through the array's buffer) rather than copied: a step holds a large
/// event whose copy would retain every string in it.
public enum WalkJSON {
    /// Appends one walk as a single JSON line (with its newline). pathtrace's own steps (its
    /// `pathtrace_<id>` nft table) are left out of `steps` and named by `traced_from`, unless `verbose`.
    /// With `explain`, each step gains `explain`: its `--explain` sentence.
    public static func write(_ walk: PacketWalk, to w: JSONWriter, verbose: Bool = false, explain: Bool = false) {
        // Only a walk that has own steps pays for the scan that sums them up, and one whose steps are
        // all in iptables' tables (told by their ids) not even for the scan that looks for them (~100
        // instructions a walk less; issue 10, scripts/icount.sh). The steps' lines were loaded
        // ahead by the printer (`WalkPrinter.print`).
        let iptables = walk.steps.withUnsafeBufferPointer { steps in
            steps.indices.allSatisfy { StepPlaceKey.inIptablesTable(steps.address($0)) }
        }
        let own = verbose || iptables ? nil : OwnTraceSteps(walk: walk)
        write(walk, own, to: w, explain: explain)
    }

    /// `,"family":…` to `,"reply_to":` (what `WalkPrefixText` keeps).
    static func writePrefix(_ walk: PacketWalk, to o: inout JSONOut) {
        o.raw(",\"family\":")
        o.quoted(JSONNames.name(walk.family))
        o.raw(",\"netns\":")
        o.name(walk.netns)
        o.raw(",\"path\":")
        o.quoted(JSONNames.name(walk.path))
        o.raw(",\"verdict\":")
        o.quoted(JSONNames.name(walk.verdict))
        o.raw(",\"confidence\":")
        // Most walks are sure: their confidence is written as a literal.
        if walk.confidence == 1 { o.raw("1.0") } else { o.double(walk.confidence as Double?) }
        o.raw(",\"reply_to\":")
    }

    static func write(_ walk: PacketWalk, _ own: OwnTraceSteps?, to w: JSONWriter, explain: Bool = false) {
        // Every key is a literal with its comma, quotes and colon: the structure is known here.
        var o = w.out()
        o.raw("{\"packet\":")
        o.integer(walk.packet)
        if let kind = WalkPrefixText.kind(walk) {
            if let text = w.prefixes.text(kind) {
                o.copy(text)
            } else {
                let start = o.offset
                writePrefix(walk, to: &o)
                w.prefixes.keep(kind, o.base + start, count: o.offset - start)
            }
        } else {
            writePrefix(walk, to: &o)
        }
        o.integer(walk.replyTo)
        o.raw(",\"connection\":")
        o.integer(walk.connection)
        walk.steps.withUnsafeBufferPointer { steps in
            var memo = StepMemo()
            writeFlow(steps, to: &o, first: firstHeaderIndex(steps), text: &memo.header.flow)
            o.raw(",\"steps\":[")
            var comma = false
            memo.time = w.seconds
            let places = w.places
            for i in steps.indices {
                if own != nil, OwnTraceSteps.isOwn(steps[i].event) { continue }
                if comma { o.byte(UInt8(ascii: ",")) }
                comma = true
                writeStep(steps.address(i), to: &o, memo: &memo, places: places)
                if explain {
                    o.raw(",\"explain\":")
                    o.text(Explain.step(walk, at: i))
                }
                o.byte(UInt8(ascii: "}"))
            }
            w.seconds = memo.time
            o.byte(UInt8(ascii: "]"))
        }
        o.raw(",\"nat\":[")
        walk.nat.withUnsafeBufferPointer { nat in
            for i in nat.indices {
                if i > 0 { o.byte(UInt8(ascii: ",")) }
                writeNat(nat.address(i), to: &o, memo: &w.natMemo)
            }
        }
        o.raw("],\"notes\":[")
        walk.notes.withUnsafeBufferPointer { notes in
            for i in notes.indices {
                if i > 0 { o.byte(UInt8(ascii: ",")) }
                o.name(notes[i])
            }
        }
        o.byte(UInt8(ascii: "]"))
        if let own {
            o.raw(",\"traced_from\":{\"table\":")
            o.name(own.table)
            o.raw(",\"chains\":[")
            for (i, chain) in own.chains.enumerated() {
                if i > 0 { o.byte(UInt8(ascii: ",")) }
                o.name(chain)
            }
            o.raw("],\"steps\":")
            o.integer(own.count)
            o.byte(UInt8(ascii: "}"))
        }
        if !walk.interfaces.isEmpty {
            o.raw(",\"topology\":{\"interfaces\":[")
            for (k, i) in walk.interfaces.enumerated() {
                if k > 0 { o.byte(UInt8(ascii: ",")) }
                o.raw("{\"name\":")
                o.name(i.name)
                o.raw(",\"role\":")
                o.text(i.role)
                o.raw(",\"addresses\":[")
                for (n, a) in i.addresses.enumerated() {
                    if n > 0 { o.byte(UInt8(ascii: ",")) }
                    o.text(a)
                }
                o.raw("]}")
            }
            o.raw("]}")
        }
        if !walk.vanished.isEmpty { writeVanished(walk.vanished, to: &o) }
        o.raw("}\n")
        w.commit(o)
    }

    /// `,"vanished":[{"cause":…,"netns":…,"detail":…,"fix":…,"guess":…}]`, only when there is a cause.
    static func writeVanished(_ causes: [Vanished], to o: inout JSONOut) {
        guard !causes.isEmpty else { return }
        o.raw(",\"vanished\":[")
        for (i, v) in causes.enumerated() {
            if i > 0 { o.byte(UInt8(ascii: ",")) }
            o.raw("{\"cause\":")
            o.text(v.cause.rawValue)
            o.raw(",\"netns\":")
            o.name(v.netns)
            o.raw(",\"detail\":")
            o.text(v.detail)
            o.raw(",\"fix\":")
            o.text(v.fix)
            o.raw(",\"guess\":")
            o.bool(v.guess)
            o.byte(UInt8(ascii: "}"))
        }
        o.byte(UInt8(ascii: "]"))
    }

    /// One path across namespaces as its own line: `{"journey":1,"netns":[…],"walks":[…],"links":[…]}`.
    public static func write(_ journey: Journey, to w: JSONWriter) {
        var o = w.out()
        o.raw("{\"journey\":")
        o.integer(journey.number)
        o.raw(",\"netns\":[")
        for (i, ns) in journey.netns.enumerated() {
            if i > 0 { o.byte(UInt8(ascii: ",")) }
            o.name(ns)
        }
        o.raw("],\"walks\":[")
        for (i, p) in journey.walks.enumerated() {
            if i > 0 { o.byte(UInt8(ascii: ",")) }
            o.ensure(0)
            o.integer(p)
        }
        o.raw("],\"links\":[")
        for (i, l) in journey.links.enumerated() {
            if i > 0 { o.byte(UInt8(ascii: ",")) }
            o.text(l)
        }
        o.byte(UInt8(ascii: "]"))
        writeVanished(journey.vanished, to: &o)
        o.raw("}\n")
        w.commit(o)
    }

    /// `walk.firstHeaderIndex`, read in place: the first step with the IP header's own fields, else the
    /// first with a header.
    static func firstHeaderIndex(_ steps: UnsafeBufferPointer<WalkStep>) -> Int? {
        var any: Int?
        for i in steps.indices where steps.address(i).pointee.event.hasHeader {
            let h = steps.address(i)
            if h.pointee.event.headerValue.ipID != nil || h.pointee.event.headerValue.length != nil
                || h.pointee.event.headerValue.tcpSeq != nil
            {
                return i
            }
            if any == nil { any = i }
        }
        return any
    }

    /// `,"flow":…`: the packet as it entered, the header of the first step that carried one
    /// (`walk.firstHeader`). Keeps in `text` where its addresses and ports are, for that step's header.
    static func writeFlow(
        _ steps: UnsafeBufferPointer<WalkStep>, to out: inout JSONOut, first: Int?, text: inout FlowText
    ) {
        // A local position: stores through it cannot alias a local, so it stays in registers where
        // the caller's (inout) one was stored back after every write.
        var o = out
        defer { out = o }
        guard let i = first else {
            o.raw(",\"flow\":null")
            return
        }
        let step = steps.address(i)
        o.raw(",\"flow\":{\"proto\":")
        if let proto = step.pointee.event.headerValue.proto {
            let kept = o.writer.proto
            if UInt16(proto) == kept.number {
                JSONOut.store(kept.text, at: o.p)
                o.p += kept.count
            } else {
                let start = o.p
                if let name = JSONNames.proto(proto) {
                    o.quoted(name)
                } else {
                    o.byte(UInt8(ascii: "\""))
                    o.unsigned(UInt64(proto))
                    o.byte(UInt8(ascii: "\""))
                }
                // The words past a shorter text are the position's slack.
                let n = o.p - start
                if n <= 8 { o.writer.proto = ProtoText(number: UInt16(proto), text: JSONOut.load(start), count: n) }
            }
        } else {
            o.null()
        }
        o.raw(",\"src\":")
        text.src = o.offset
        o.address(step.pointee.event.headerValue.src)
        o.raw(",\"sport\":")
        text.sport = o.offset
        o.number(step.pointee.event.headerValue.sport)
        o.raw(",\"dst\":")
        text.dst = o.offset
        o.address(step.pointee.event.headerValue.dst)
        o.raw(",\"dport\":")
        text.dport = o.offset
        o.number(step.pointee.event.headerValue.dport)
        text.end = o.offset
        text.step = step
        if step.pointee.event.headerValue.icmpType != nil {
            o.raw(",\"icmp_type\":")
            o.number(step.pointee.event.headerValue.icmpType)
            o.raw(",\"icmp_code\":")
            o.number(step.pointee.event.headerValue.icmpCode)
        }
        o.byte(UInt8(ascii: "}"))
    }

    /// A flow's protocol as the walk writer last printed it, quoted (at most 8 bytes): walk after walk
    /// the same few, copied as one word where naming one was a call and a copy of its length (~60
    /// instructions a walk, issue 10, scripts/icount.sh).
    struct ProtoText {
        /// The protocol's number; none at first.
        var number: UInt16 = .max
        var text: UInt64 = 0
        var count = 0
    }

    /// Where the flow's src, sport, dst and dport values start (offsets in the writer's buffer, which
    /// holds the whole walk until it ends) and where the last ends: the header of its step shows the
    /// same values, copied rather than formatted again (~60 instructions a walk, issue 10,
    /// scripts/icount.sh).
    struct FlowText {
        var step: UnsafePointer<WalkStep>?
        var src = 0
        var sport = 0
        var dst = 0
        var dport = 0
        var end = 0

        /// The keys between the values: `,"sport":`, `,"dst":`, `,"dport":`.
        static let sportKey = 9
        static let dstKey = 7
        static let dportKey = 9
    }

    /// One element of `steps` but its `explain` and closing brace (which its caller writes, so that
    /// no optional String is passed and released a step). Fields are read in place: binding the event
    /// or its header would copy them (and retain their strings).
    static func writeStep(
        _ step: UnsafePointer<WalkStep>, to o: inout JSONOut, memo: inout StepMemo, places: StepTextCache
    ) {
        // Room for the time and the longest place text kept, copied without a look at the room.
        o.ensure(StepTextCache.longest + 128)
        o.raw("{\"time\":")
        writeTime(step, to: &o, memo: &memo)
        if step.pointee.event.timeBasis == .received, step.pointee.event.time != nil {
            o.raw(",\"time_basis\":\"received\"")
        }
        if let key = StepPlaceKey(step) {
            if let text = places.text(key) {
                o.copyInRoom(text)
            } else {
                let start = o.offset
                writePlace(step, to: &o)
                places.keep(key, o.base + start, count: o.offset - start)
            }
        } else {
            writePlace(step, to: &o)
        }
        // `,"src":…` to `"file:` is most often the step before's: one copy for both.
        let origin = StepPlaceKey.originFile(step)
        // Whether the header has `ct …` items, asked once per box of `extra` items a walk's steps share.
        var conntrack = false
        if step.pointee.event.hasHeader && step.pointee.event.headerValue.hasExtra {
            let box = step.pointee.event.headerValue.rareIdentity
            if box != nil, box == memo.extraBox {
                conntrack = memo.extraConntrack
            } else {
                conntrack = hasConntrackItems(step)
                memo.extraBox = box
                memo.extraConntrack = conntrack
            }
        }
        let plain =
            origin != nil && step.pointee.event.hasHeader && !conntrack && step.pointee.event.traceID == nil
            && !step.pointee.event.hasPrefix
        let last = plain && origin == memo.tailOrigin ? memo.tailStep : nil
        if let last,
            WalkStep.sameHeaderBytes(step, last)
                || step.pointee.event.headerValue.sameStepFields(as: last.pointee.event.headerValue)
        {
            o.repeatBytes(from: memo.tailOffset, count: memo.tailCount)
            // The next step is compared with this one: a routed packet's last steps have the same bytes
            // as each other, not as the step whose header they repeat.
            memo.tailStep = step
        } else {
            let tailStart = o.offset
            // A tail to copy that differs is a header that differs from the header memo's (whose fields
            // are the tail's): not compared again.
            writeTail(step, origin, conntrack: conntrack, newHeader: last != nil, to: &o, memo: &memo)
            memo.tailStep = plain ? step : nil
            memo.tailOrigin = origin
            memo.tailOffset = tailStart
            memo.tailCount = o.offset - tailStart
        }
        o.integer(step.pointee.event.sourceLine)
        o.byte(UInt8(ascii: "\""))
    }

    /// A step's header, prefix, trace id and `,"origin":…,"source":"file:`. With `newHeader`, the
    /// header is known to differ from the header memo's.
    @inline(__always) static func writeTail(
        _ step: UnsafePointer<WalkStep>, _ origin: UInt32?, conntrack: Bool, newHeader: Bool, to o: inout JSONOut,
        memo: inout StepMemo
    ) {
        if step.pointee.event.hasHeader {
            writeHeader(step, conntrack: conntrack, new: newHeader, to: &o, memo: &memo.header)
        }
        if let prefix = step.pointee.event.prefixName {
            o.raw(",\"prefix\":")
            o.name(prefix)
        }
        if let id = step.pointee.event.traceID {
            o.raw(",\"trace_id\":\"")
            o.hex8(id)
            o.byte(UInt8(ascii: "\""))
        }
        // `,"origin":…,"source":"file:`: a walk's steps mostly come from one file.
        if origin != nil, origin == memo.origin {
            o.repeatBytes(from: memo.originOffset, count: memo.originCount)
        } else if let origin, let kept = o.writer.origins.text(origin) {
            // Walk after walk the same file: its bytes as the writer kept them.
            let start = o.offset
            o.copyMidsize(kept)
            memo.origin = origin
            memo.originOffset = start
            memo.originCount = kept.count
        } else {
            let start = o.offset
            o.raw(",\"origin\":")
            o.quoted(JSONNames.name(step.pointee.event.origin))
            // `source.description` ("file:line"), written in place.
            o.raw(",\"source\":\"")
            o.nameBody(step.pointee.event.source.fileName)
            o.byte(UInt8(ascii: ":"))
            memo.origin = origin
            memo.originOffset = start
            memo.originCount = o.offset - start
            if let origin { o.writer.origins.keep(origin, o.base + start, count: memo.originCount) }
        }
    }

    /// The step's time; a kernel timestamp (whole microseconds) with the seconds and milliseconds of
    /// the step before copied from it (a walk's steps are microseconds apart: 96% of t10's steps share
    /// the millisecond of the one before, ~17 instructions a step less than the seconds alone, issue
    /// 10, scripts/icount.sh).
    @inline(__always) static func writeTime(_ step: UnsafePointer<WalkStep>, to o: inout JSONOut, memo: inout StepMemo)
    {
        guard let time = step.pointee.event.time, let micros = ShortestDecimal.micros(time) else {
            o.double(step.pointee.event.time)
            // A `description` goes through `escaped`, whose `ensure` leaves less room than the step's
            // place text may need (`writeStep`'s first `ensure`).
            o.ensure(StepTextCache.longest + 64)
            return
        }
        let millis = micros / 1000
        let low = micros &- millis &* 1000
        // Three zeros at the end trim into the milliseconds: written in full below.
        if millis == memo.time.millis, low != 0 {
            JSONOut.store(memo.time.text.0, at: o.p)
            JSONOut.store(memo.time.text.1, at: o.p + 8)
            o.p += memo.time.count
            o.lastDigits(low)
            return
        }
        let start = o.p
        let seconds = millis / 1000
        let n = JSONOut.unsigned(seconds, at: o.p)
        o.p += n
        o.fraction(micros &- seconds &* 1_000_000)
        // The seconds, the point and the milliseconds' three digits, there even when trimmed.
        memo.time = SecondsMemo(millis: millis, text: (JSONOut.load(start), JSONOut.load(start + 8)), count: n + 4)
    }

    /// The milliseconds of the last kernel time written and their text (the seconds' digits, at most
    /// 10 below 2^31, the point and three digits), kept from walk to walk (a trace's times share
    /// their seconds for long).
    struct SecondsMemo {
        var millis: UInt64 = .max
        var text: (UInt64, UInt64) = (0, 0)
        var count = 0
    }

    /// What a walk's steps printed before that the next step may copy (the writer's buffer holds the
    /// whole walk until it ends).
    struct StepMemo {
        var header = HeaderMemo()
        /// `StepPlaceKey.originFile` of the last `,"origin":…,"source":"file:` and where its bytes are.
        var origin: UInt32?
        var originOffset = 0
        var originCount = 0
        var time = SecondsMemo()
        /// The last step whose header and origin (no prefix, trace id or conntrack between) were
        /// written as one run, and where that run is.
        var tailStep: UnsafePointer<WalkStep>?
        var tailOrigin: UInt32?
        var tailOffset = 0
        var tailCount = 0
        /// The last box of `extra` items looked at (`PacketHeader.rareIdentity`), and whether they
        /// hold `ct …` items: the steps hold the box while the walk is written, so it is not reused.
        var extraBox: ObjectIdentifier?
        var extraConntrack = false
    }

    /// `,"hook":…` to the interfaces: what `StepPlaceKey` covers.
    static func writePlace(_ step: UnsafePointer<WalkStep>, to o: inout JSONOut) {
        o.raw(",\"hook\":")
        if let hook = step.pointee.hook { o.quoted(JSONNames.name(hook)) } else { o.null() }
        if step.pointee.event.family == .bridge {
            // A step of the bridge hooks (ebtables, an nft bridge table), in a walk with IP steps or not.
            o.raw(",\"family\":\"bridge\"")
        }
        o.raw(",\"table\":")
        o.name(step.pointee.event.tableName)
        o.raw(",\"chain\":")
        o.name(step.pointee.event.chainName)
        o.raw(",\"kind\":")
        o.quoted(JSONNames.name(step.pointee.event.kind))
        switch step.pointee.event.rule {
        case .number(let n):
            o.raw(",\"rule\":")
            o.integer(n)
        case .handle(let h):
            o.raw(",\"rule\":null,\"handle\":")
            o.unsigned(h)
        case nil: o.raw(",\"rule\":null")
        }
        o.raw(",\"verdict\":")
        writeVerdict(step, to: &o)
        if step.pointee.verdictInferred {
            o.raw(",\"verdict_inferred\":true,\"rule_text\":")
        } else {
            o.raw(",\"verdict_inferred\":false,\"rule_text\":")
        }
        o.name(step.pointee.event.ruleTextName)
        o.raw(",\"in\":")
        o.name(step.pointee.event.inIfaceName)
        o.raw(",\"out\":")
        o.name(step.pointee.event.outIfaceName)
        if let physIn = step.pointee.event.physInName {
            o.raw(",\"physin\":")
            o.name(physIn)
        }
        if let physOut = step.pointee.event.physOutName {
            o.raw(",\"physout\":")
            o.name(physOut)
        }
    }

    /// The last header a walk's steps printed: the steps of a walk mostly show the same packet, whose
    /// header bytes are then copied rather than formatted again.
    struct HeaderMemo {
        /// The step whose header was printed (the walk's steps stay in place while it is written).
        var step: UnsafePointer<WalkStep>?
        /// Where its bytes are in the writer's buffer (which holds the whole walk until it ends).
        var offset = 0
        var count = 0
        /// Where the TTL's value is in those bytes, and how long.
        var ttlStart = 0
        var ttlCount = 0
        /// Where the flow's values are.
        var flow = FlowText()
    }

    /// The packet as this step saw it (the step has a header; with `new`, one that differs from the
    /// memo's). In line: most steps copy the header of the step before.
    @inline(__always) static func writeHeader(
        _ step: UnsafePointer<WalkStep>, conntrack: Bool, new: Bool, to o: inout JSONOut, memo: inout HeaderMemo
    ) {
        if !new, let last = memo.step,
            step.pointee.event.headerValue.sameStepFields(as: last.pointee.event.headerValue)
        {
            o.repeatBytes(from: memo.offset, count: memo.count)
        } else {
            writeNewHeader(step, to: &o, memo: &memo)
        }
        if conntrack { writeConntrack(step, to: &o) }
    }

    @inline(never) static func writeNewHeader(
        _ step: UnsafePointer<WalkStep>, to o: inout JSONOut, memo: inout HeaderMemo
    ) {
        o.ensure(0)
        let start = o.offset
        if let last = memo.step,
            step.pointee.event.headerValue.sameStepFields(as: last.pointee.event.headerValue, ttl: false)
        {
            // A routed packet's next header: the one before with the TTL it lost written in (a
            // forwarded walk's second header; ~580 instructions to write anew, issue 10, scripts/icount.sh).
            o.repeatBytes(from: memo.offset, count: memo.ttlStart)
            o.number(step.pointee.event.headerValue.ttl)
            let ttlStart = o.offset - start
            let rest = memo.ttlStart + memo.ttlCount
            o.repeatBytes(from: memo.offset + rest, count: memo.count - rest)
            memo.step = step
            memo.offset = start
            memo.count = o.offset - start
            memo.ttlCount = ttlStart - memo.ttlStart
            return
        }
        let ttl = writeFields(step, flow: memo.flow, to: &o)
        memo.step = step
        memo.offset = start
        memo.count = o.offset - start
        memo.ttlStart = ttl.lowerBound - start
        memo.ttlCount = ttl.count
    }

    /// `,"ct":{…}` when the header has conntrack items.
    @inline(never) static func writeConntrack(_ step: UnsafePointer<WalkStep>, to o: inout JSONOut) {
        // `conntrack` reads `ct …` items of `extra`, which only nft trace sources have: checked in place
        // first, since calling it copies the header (and retains its strings).
        if hasConntrackItems(step), let ct = step.pointee.event.headerValue.conntrack {
            o.raw(",\"ct\":{\"state\":")
            o.name(ct.state)
            o.raw(",\"direction\":")
            o.name(ct.direction)
            o.raw(",\"status\":")
            o.name(ct.status)
            o.raw(",\"id\":")
            o.number(ct.id)
            o.byte(UInt8(ascii: "}"))
        }
    }

    /// `,"src":…` to `,"uid":…`, read in place; the addresses and ports as the flow wrote them when
    /// `flow` is this step's. Returns where the TTL's value is (offsets).
    @discardableResult
    static func writeFields(_ step: UnsafePointer<WalkStep>, flow: FlowText, to out: inout JSONOut) -> Range<Int> {
        // A local position: stores through it cannot alias a local, so it stays in registers where
        // the caller's (inout) one was stored back after every write.
        var o = out
        defer { out = o }
        if flow.step == step {
            o.raw(",\"src\":")
            o.copyWritten(from: flow.src, to: flow.sport - FlowText.sportKey)
            o.raw(",\"dst\":")
            o.copyWritten(from: flow.dst, to: flow.dport - FlowText.dportKey)
            o.raw(",\"sport\":")
            o.copyWritten(from: flow.sport, to: flow.dst - FlowText.dstKey)
            o.raw(",\"dport\":")
            o.copyWritten(from: flow.dport, to: flow.end)
        } else {
            o.raw(",\"src\":")
            o.address(step.pointee.event.headerValue.src)
            o.raw(",\"dst\":")
            o.address(step.pointee.event.headerValue.dst)
            o.raw(",\"sport\":")
            o.number(step.pointee.event.headerValue.sport)
            o.raw(",\"dport\":")
            o.number(step.pointee.event.headerValue.dport)
        }
        o.raw(",\"ttl\":")
        let ttlStart = o.offset
        o.number(step.pointee.event.headerValue.ttl)
        let ttl = ttlStart..<o.offset
        o.raw(",\"id\":")
        o.number(step.pointee.event.headerValue.ipID)
        o.raw(",\"len\":")
        o.number(step.pointee.event.headerValue.length)
        if let seq = step.pointee.event.headerValue.tcpSeq {
            o.raw(",\"seq\":")
            o.unsigned(UInt64(seq))
        }
        let flags = step.pointee.event.headerValue.tcpFlags
        if flags.rawValue != 0 {
            o.raw(",\"tcp_flags\":")
            o.tcpFlags(flags)
        }
        if step.pointee.event.headerValue.icmpType != nil {
            o.raw(",\"icmp_type\":")
            o.number(step.pointee.event.headerValue.icmpType)
            o.raw(",\"icmp_code\":")
            o.number(step.pointee.event.headerValue.icmpCode)
        }
        if let mark = step.pointee.event.headerValue.mark {
            o.raw(",\"mark\":")
            o.unsigned(UInt64(mark))
        }
        if let uid = step.pointee.event.headerValue.uid {
            o.raw(",\"uid\":")
            o.unsigned(UInt64(uid))
        }
        return ttl
    }

    /// Whether the step's header keeps `ct …` items in `extra` (what `PacketHeader.conntrack` reads).
    static func hasConntrackItems(_ step: UnsafePointer<WalkStep>) -> Bool {
        guard step.pointee.event.headerValue.hasExtra else { return false }
        return step.pointee.event.headerValue.extra.withUnsafeBufferPointer { items in
            // Most items start with another letter: only those starting with `c` are compared.
            items.indices.contains { items[$0].utf8.first == UInt8(ascii: "c") && items[$0].hasPrefix("ct ") }
        }
    }

    /// `verdict.description` quoted, or `null`, written in place.
    static func writeVerdict(_ step: UnsafePointer<WalkStep>, to o: inout JSONOut) {
        switch step.pointee.verdict {
        case .accept: o.quoted("accept")
        case .drop: o.quoted("drop")
        case .queue: o.quoted("queue")
        case .stolen: o.quoted("stolen")
        case .continue: o.quoted("continue")
        case .return: o.quoted("return")
        case .break: o.quoted("break")
        case .jump(let chain):
            o.raw("\"jump ")
            o.nameBody(chain)
            o.byte(UInt8(ascii: "\""))
        case .goto(let chain):
            o.raw("\"goto ")
            o.nameBody(chain)
            o.byte(UInt8(ascii: "\""))
        case .other(let text): o.name(text)
        case nil: o.null()
        }
    }

    /// A NAT endpoint, quoted, with the bytes of `Endpoint.description` (`addr`, `addr:port`,
    /// `[v6]:port`), written from its address and port (fixed size: within the room of the last `ensure`).
    @inline(__always) static func writeEndpoint(_ e: Endpoint, to o: inout JSONOut) {
        o.byte(UInt8(ascii: "\""))
        if let port = e.port {
            if e.address.isV6 {
                o.byte(UInt8(ascii: "["))
                o.addressBody(e.address)
                o.byte(UInt8(ascii: "]"))
            } else {
                o.addressBody(e.address)
            }
            o.byte(UInt8(ascii: ":"))
            o.unsigned(UInt64(port))
        } else {
            o.addressBody(e.address)
        }
        o.byte(UInt8(ascii: "\""))
    }

    /// Where a String field of the rewrite at `nat` is, read without a copy.
    @inline(__always) static func field(
        _ nat: UnsafePointer<NatRewrite>, _ key: KeyPath<NatRewrite, String>
    ) -> UnsafePointer<String> {
        UnsafeRawPointer(nat).advanced(by: MemoryLayout<NatRewrite>.offset(of: key).unsafelyUnwrapped)
            .assumingMemoryBound(to: String.self)
    }

    static func writeNat(_ nat: UnsafePointer<NatRewrite>, to out: inout JSONOut, memo: inout NatMemo) {
        // A local position: stores through it cannot alias a local, so it stays in registers where
        // the caller's (inout) one was stored back after every write.
        var o = out
        defer { out = o }
        o.raw("{\"type\":")
        o.quoted(JSONNames.name(nat.pointee.type))
        o.raw(",\"field\":")
        memo.field.write(field(nat, \.field), to: &o)
        o.raw(",\"before\":")
        writeEndpoint(nat.pointee.beforeEndpoint, to: &o)
        o.raw(",\"after\":")
        if let after = nat.pointee.afterEndpoint { writeEndpoint(after, to: &o) } else { o.null() }
        o.raw(",\"at\":")
        memo.at.write(field(nat, \.at), to: &o)
        o.raw(",\"evidence\":")
        o.quoted(JSONNames.name(nat.pointee.evidence))
        o.raw(",\"direction\":")
        memo.direction.write(field(nat, \.direction), to: &o)
        switch nat.pointee.rule {
        case .number(let n):
            o.raw(",\"rule\":")
            o.integer(n)
        case .handle(let h):
            o.raw(",\"handle\":")
            o.unsigned(h)
        case nil: break
        }
        o.raw(",\"rule_text\":")
        o.name(nat.pointee.ruleText)
        o.byte(UInt8(ascii: "}"))
    }
}
