import PathTraceCore

/// `--save`: one trace event per line, as JSON that `replay` reads back to the same walks.
///
/// Every field the correlator uses is kept (and the packet's unparsed fields); a line starts with
/// `{"pathtrace-event":1,` so the replay parser recognises it among other formats.
public enum SavedEvents {
    public static func write(_ e: TraceEvent, to w: JSONWriter) {
        w.beginObject()
        w.field("pathtrace-event", 1)
        w.field("time", e.time)
        if e.timeBasis == .received { w.field("time_basis", e.timeBasis.rawValue) }
        w.field("source", e.source.description)
        w.field("origin", e.origin.rawValue)
        w.field("family", e.family.rawValue)
        w.field("hook", e.hook?.rawValue)
        w.field("table", e.table)
        w.field("chain", e.chain)
        w.field("kind", e.kind.rawValue)
        switch e.rule {
        case .number(let n): w.field("rule", n)
        case .handle(let h): w.field("handle", h)
        case nil: break
        }
        w.field("rule_text", e.ruleText)
        w.field("verdict", e.verdict?.description)
        w.field("in", e.inIface)
        w.field("out", e.outIface)
        w.field("physin", e.physIn)
        w.field("physout", e.physOut)
        w.field("trace_id", e.traceID)
        w.field("prefix", e.prefix)
        w.field("table_family", e.tableFamily)
        if let netns = e.netns { w.field("netns", netns) }
        if let h = e.header {
            w.beginObject("header")
            w.field("src", h.src)
            w.field("dst", h.dst)
            w.field("proto", h.proto)
            w.field("sport", h.sport)
            w.field("dport", h.dport)
            w.field("id", h.ipID)
            w.field("ttl", h.ttl)
            w.field("len", h.length)
            w.field("tos", h.tos)
            w.field("ip_flags", h.ipFlags.rawValue)
            w.field("frag", h.fragment)
            w.field("seq", h.tcpSeq)
            w.field("ack", h.tcpAck)
            w.field("tcp_flags", h.tcpFlags.rawValue)
            w.field("window", h.window)
            w.field("icmp_type", h.icmpType)
            w.field("icmp_code", h.icmpCode)
            w.field("icmp_id", h.icmpID)
            w.field("icmp_seq", h.icmpSeq)
            w.field("mark", h.mark)
            w.field("uid", h.uid)
            w.field("gid", h.gid)
            w.field("mac_src", h.macSrc)
            w.field("mac_dst", h.macDst)
            w.field("mac_proto", h.macProto)
            w.field("incomplete", h.incompleteBytes)
            if let inner = h.embedded {
                w.beginObject("embedded")
                w.field("src", inner.src)
                w.field("dst", inner.dst)
                w.field("proto", inner.proto)
                w.field("sport", inner.sport)
                w.field("dport", inner.dport)
                w.field("id", inner.ipID)
                w.field("len", inner.length)
                w.endObject()
            }
            w.beginArray("extra")
            for item in h.extra { w.element(item) }
            w.endArray()
            w.endObject()
        }
        w.endObject()
        w.newline()
    }
}
