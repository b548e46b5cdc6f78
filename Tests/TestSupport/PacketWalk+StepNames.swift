import PathTraceCore

extension PacketWalk {
    /// The step names a user reads in the timeline: `bridge nat:PREROUTING` for a bridge step,
    /// `raw:PREROUTING` for an IP one, `LOG` for a LOG line; repeats folded.
    public var stepNames: [String] {
        var out: [String] = []
        for step in steps {
            let e = step.event
            var name = e.kind == .log && e.table.isEmpty ? "LOG" : "\(e.table):\(e.chain)"
            if e.family == .bridge { name = "bridge " + name }
            if out.last != name { out.append(name) }
        }
        return out
    }
}
