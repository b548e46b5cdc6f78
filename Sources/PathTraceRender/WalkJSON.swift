import PathTraceCore

/// The JSON Lines contract of DESIGN.md: one object per walk; keys only grow.
public enum WalkJSON {
    /// Appends one walk as a single JSON line (with its newline).
    public static func write(_ walk: PacketWalk, to w: inout JSONWriter) {
        w.beginObject()
        w.field("packet", walk.packet)
        w.field("family", walk.family.rawValue)
        w.field("netns", walk.netns)
        w.field("path", walk.path.rawValue)
        w.field("verdict", walk.verdict.rawValue)
        w.field("confidence", walk.confidence)
        w.field("reply_to", walk.replyTo)
        w.field("connection", walk.connection)
        if let h = walk.firstHeader {
            w.beginObject("flow")
            w.field("proto", h.proto.map(IPProtocol.name))
            w.field("src", h.src?.description)
            w.field("sport", h.sport)
            w.field("dst", h.dst?.description)
            w.field("dport", h.dport)
            if h.icmpType != nil {
                w.field("icmp_type", h.icmpType)
                w.field("icmp_code", h.icmpCode)
            }
            w.endObject()
        } else {
            w.field("flow", nil as String?)
        }
        w.beginArray("steps")
        for step in walk.steps { writeStep(step, to: &w) }
        w.endArray()
        w.beginArray("nat")
        for nat in walk.nat { writeNat(nat, to: &w) }
        w.endArray()
        w.beginArray("notes")
        for note in walk.notes { w.element(note) }
        w.endArray()
        w.endObject()
        w.bytes.append(10)
    }

    static func writeStep(_ step: WalkStep, to w: inout JSONWriter) {
        let e = step.event
        w.beginObject()
        w.field("time", e.time)
        w.field("hook", step.hook?.rawValue)
        w.field("table", e.table)
        w.field("chain", e.chain)
        w.field("kind", e.kind.rawValue)
        var number: Int?
        var handle: UInt64?
        switch e.rule {
        case .number(let n): number = n
        case .handle(let h): handle = h
        case nil: break
        }
        w.field("rule", number)
        if handle != nil { w.field("handle", handle) }
        w.field("verdict", step.verdict?.description)
        w.field("verdict_inferred", step.verdictInferred)
        w.field("rule_text", e.ruleText)
        w.field("in", e.inIface)
        w.field("out", e.outIface)
        if e.physIn != nil { w.field("physin", e.physIn) }
        if e.physOut != nil { w.field("physout", e.physOut) }
        if let h = e.header {
            w.field("src", h.src?.description)
            w.field("dst", h.dst?.description)
            w.field("sport", h.sport)
            w.field("dport", h.dport)
            w.field("ttl", h.ttl)
            w.field("id", h.ipID)
            w.field("len", h.length)
            if h.tcpSeq != nil { w.field("seq", h.tcpSeq) }
            if !h.tcpFlags.isEmpty { w.field("tcp_flags", h.tcpFlags.names.joined(separator: " ")) }
            if h.icmpType != nil {
                w.field("icmp_type", h.icmpType)
                w.field("icmp_code", h.icmpCode)
            }
            if h.mark != nil { w.field("mark", h.mark) }
            if h.uid != nil { w.field("uid", h.uid) }
        }
        if let prefix = e.prefix { w.field("prefix", prefix) }
        if let id = e.traceID { w.field("trace_id", hex8(id)) }
        w.field("origin", e.origin.rawValue)
        w.field("source", e.source.description)
        w.endObject()
    }

    static func writeNat(_ nat: NatRewrite, to w: inout JSONWriter) {
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

    static func hex8(_ v: UInt32) -> String {
        let s = String(v, radix: 16)
        return String(repeating: "0", count: 8 - s.count) + s
    }
}
