import PathTraceCore

/// The JSON Lines contract of DESIGN.md: one object per walk; keys only grow.
///
/// Steps are read in place (through the array's buffer) rather than copied: a step holds a large
/// event whose copy would retain every string in it.
public enum WalkJSON {
    /// Appends one walk as a single JSON line (with its newline).
    public static func write(_ walk: PacketWalk, to w: JSONWriter) {
        w.beginObject()
        w.field("packet", walk.packet)
        w.key("family")
        w.string(JSONNames.name(walk.family))
        w.field("netns", walk.netns)
        w.key("path")
        w.string(JSONNames.name(walk.path))
        w.key("verdict")
        w.string(JSONNames.name(walk.verdict))
        w.field("confidence", walk.confidence)
        w.field("reply_to", walk.replyTo)
        w.field("connection", walk.connection)
        walk.steps.withUnsafeBufferPointer { steps in
            writeFlow(steps, to: w)
            w.beginArray("steps")
            for i in steps.indices { writeStep(steps.baseAddress! + i, to: w) }
            w.endArray()
        }
        w.beginArray("nat")
        for i in walk.nat.indices { writeNat(walk.nat[i], to: w) }
        w.endArray()
        w.beginArray("notes")
        for note in walk.notes { w.element(note) }
        w.endArray()
        w.endObject()
        w.newline()
    }

    /// The packet as it entered: the header of the first step that carried one (`walk.firstHeader`).
    static func writeFlow(_ steps: UnsafeBufferPointer<WalkStep>, to w: JSONWriter) {
        guard let i = steps.firstIndex(where: { $0.event.header != nil }) else {
            w.field("flow", nil as String?)
            return
        }
        let event = steps.baseAddress! + i
        w.beginObject("flow")
        w.key("proto")
        if let proto = event.pointee.event.header!.proto { w.string(IPProtocol.name(proto)) } else { w.null() }
        w.field("src", event.pointee.event.header!.src)
        w.field("sport", event.pointee.event.header!.sport)
        w.field("dst", event.pointee.event.header!.dst)
        w.field("dport", event.pointee.event.header!.dport)
        if event.pointee.event.header!.icmpType != nil {
            w.field("icmp_type", event.pointee.event.header!.icmpType)
            w.field("icmp_code", event.pointee.event.header!.icmpCode)
        }
        w.endObject()
    }

    static func writeStep(_ step: UnsafePointer<WalkStep>, to w: JSONWriter) {
        w.beginObject()
        w.field("time", step.pointee.event.time)
        w.key("hook")
        if let hook = step.pointee.hook { w.string(JSONNames.name(hook)) } else { w.null() }
        w.field("table", step.pointee.event.table)
        w.field("chain", step.pointee.event.chain)
        w.key("kind")
        w.string(JSONNames.name(step.pointee.event.kind))
        switch step.pointee.event.rule {
        case .number(let n): w.field("rule", n)
        case .handle(let h):
            w.field("rule", nil as Int?)
            w.field("handle", h)
        case nil: w.field("rule", nil as Int?)
        }
        w.key("verdict")
        if let verdict = step.pointee.verdict { writeVerdict(verdict, to: w) } else { w.null() }
        w.field("verdict_inferred", step.pointee.verdictInferred)
        w.field("rule_text", step.pointee.event.ruleText)
        w.field("in", step.pointee.event.inIface)
        w.field("out", step.pointee.event.outIface)
        if step.pointee.event.physIn != nil { w.field("physin", step.pointee.event.physIn) }
        if step.pointee.event.physOut != nil { w.field("physout", step.pointee.event.physOut) }
        writeHeader(step, to: w)
        if let prefix = step.pointee.event.prefix { w.field("prefix", prefix) }
        if let id = step.pointee.event.traceID {
            w.key("trace_id")
            w.byte(UInt8(ascii: "\""))
            w.hex8(id)
            w.byte(UInt8(ascii: "\""))
        }
        w.key("origin")
        w.string(JSONNames.name(step.pointee.event.origin))
        // `source.description` ("file:line"), written in place.
        w.key("source")
        w.byte(UInt8(ascii: "\""))
        w.stringBody(step.pointee.event.source.file)
        w.byte(UInt8(ascii: ":"))
        w.integer(Int64(step.pointee.event.source.line))
        w.byte(UInt8(ascii: "\""))
        w.endObject()
    }

    /// The packet as this step saw it (nothing when the step has no header).
    static func writeHeader(_ step: UnsafePointer<WalkStep>, to w: JSONWriter) {
        guard let h = step.pointee.event.header else { return }
        w.field("src", h.src)
        w.field("dst", h.dst)
        w.field("sport", h.sport)
        w.field("dport", h.dport)
        w.field("ttl", h.ttl)
        w.field("id", h.ipID)
        w.field("len", h.length)
        if let seq = h.tcpSeq { w.field("seq", seq) }
        if !h.tcpFlags.isEmpty {
            w.key("tcp_flags")
            w.tcpFlags(h.tcpFlags)
        }
        if h.icmpType != nil {
            w.field("icmp_type", h.icmpType)
            w.field("icmp_code", h.icmpCode)
        }
        if let mark = h.mark { w.field("mark", mark) }
        if let uid = h.uid { w.field("uid", uid) }
    }

    /// `verdict.description`, written in place.
    static func writeVerdict(_ verdict: StepVerdict, to w: JSONWriter) {
        switch verdict {
        case .accept: w.string("accept")
        case .drop: w.string("drop")
        case .queue: w.string("queue")
        case .stolen: w.string("stolen")
        case .continue: w.string("continue")
        case .return: w.string("return")
        case .break: w.string("break")
        case .jump(let chain):
            w.raw("\"jump ")
            w.stringBody(chain)
            w.byte(UInt8(ascii: "\""))
        case .goto(let chain):
            w.raw("\"goto ")
            w.stringBody(chain)
            w.byte(UInt8(ascii: "\""))
        case .other(let text): w.string(text)
        }
    }

    static func writeNat(_ nat: NatRewrite, to w: JSONWriter) {
        w.beginObject()
        w.field("type", nat.type.rawValue)
        w.field("field", nat.field)
        w.field("before", nat.before)
        w.field("after", nat.after)
        w.field("at", nat.at)
        w.field("evidence", nat.evidence.rawValue)
        w.field("direction", nat.direction)
        if case .number(let n) = nat.rule { w.field("rule", n) }
        if case .handle(let h) = nat.rule { w.field("handle", h) }
        w.field("rule_text", nat.ruleText)
        w.endObject()
    }
}
