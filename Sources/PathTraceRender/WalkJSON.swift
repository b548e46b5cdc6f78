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
        // Only a walk that has own steps pays for the scan that sums them up.
        let own = verbose ? nil : OwnTraceSteps(walk: walk)
        write(walk, own, to: w, explain: explain)
    }

    static func write(_ walk: PacketWalk, _ own: OwnTraceSteps?, to w: JSONWriter, explain: Bool = false) {
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
        let first = walk.firstHeaderIndex
        walk.steps.withUnsafeBufferPointer { steps in
            writeFlow(steps, to: w, first: first)
            w.beginArray("steps")
            for i in steps.indices {
                if own != nil, OwnTraceSteps.isOwn(steps[i].event) { continue }
                writeStep(steps.address(i), to: w, explain: explain ? Explain.step(walk, at: i) : nil)
            }
            w.endArray()
        }
        w.beginArray("nat")
        for i in walk.nat.indices { writeNat(walk.nat[i], to: w) }
        w.endArray()
        w.beginArray("notes")
        for note in walk.notes { w.element(note) }
        w.endArray()
        if let own {
            w.beginObject("traced_from")
            w.field("table", own.table)
            w.beginArray("chains")
            for chain in own.chains { w.element(chain) }
            w.endArray()
            w.field("steps", own.count)
            w.endObject()
        }
        if !walk.interfaces.isEmpty {
            w.beginObject("topology")
            w.beginArray("interfaces")
            for i in walk.interfaces {
                w.beginObject()
                w.field("name", i.name)
                w.field("role", i.role)
                w.beginArray("addresses")
                for a in i.addresses { w.element(a) }
                w.endArray()
                w.endObject()
            }
            w.endArray()
            w.endObject()
        }
        writeVanished(walk.vanished, to: w)
        w.endObject()
        w.newline()
    }

    /// `"vanished":[{"cause":…,"netns":…,"detail":…,"fix":…,"guess":…}]`, only when there is a cause.
    static func writeVanished(_ causes: [Vanished], to w: JSONWriter) {
        guard !causes.isEmpty else { return }
        w.beginArray("vanished")
        for v in causes {
            w.beginObject()
            w.field("cause", v.cause.rawValue)
            w.field("netns", v.netns)
            w.field("detail", v.detail)
            w.field("fix", v.fix)
            w.field("guess", v.guess)
            w.endObject()
        }
        w.endArray()
    }

    /// One path across namespaces as its own line: `{"journey":1,"netns":[…],"walks":[…],"links":[…]}`.
    public static func write(_ journey: Journey, to w: JSONWriter) {
        w.beginObject()
        w.field("journey", journey.number)
        w.beginArray("netns")
        for ns in journey.netns { w.element(ns) }
        w.endArray()
        w.beginArray("walks")
        for p in journey.walks { w.element(p) }
        w.endArray()
        w.beginArray("links")
        for l in journey.links { w.element(l) }
        w.endArray()
        writeVanished(journey.vanished, to: w)
        w.endObject()
        w.newline()
    }

    /// The packet as it entered: the header of the first step that carried one (`walk.firstHeader`).
    static func writeFlow(_ steps: UnsafeBufferPointer<WalkStep>, to w: JSONWriter, first: Int?) {
        guard let i = first else {
            w.field("flow", nil as String?)
            return
        }
        let event = steps.address(i)
        w.beginObject("flow")
        w.key("proto")
        if let proto = event.pointee.event.headerValue.proto { w.string(IPProtocol.name(proto)) } else { w.null() }
        w.field("src", event.pointee.event.headerValue.src)
        w.field("sport", event.pointee.event.headerValue.sport)
        w.field("dst", event.pointee.event.headerValue.dst)
        w.field("dport", event.pointee.event.headerValue.dport)
        if event.pointee.event.headerValue.icmpType != nil {
            w.field("icmp_type", event.pointee.event.headerValue.icmpType)
            w.field("icmp_code", event.pointee.event.headerValue.icmpCode)
        }
        w.endObject()
    }

    static func writeStep(_ step: UnsafePointer<WalkStep>, to w: JSONWriter, explain: String? = nil) {
        // Every key after the first follows a value: the comma is part of its literal.
        w.beginObject()
        w.key("time")
        w.value(step.pointee.event.time)
        if step.pointee.event.timeBasis == .received, step.pointee.event.time != nil {
            w.nextKey(",\"time_basis\":\"received\"")
        }
        w.nextKey(",\"hook\":")
        if let hook = step.pointee.hook { w.string(JSONNames.name(hook)) } else { w.null() }
        if step.pointee.event.family == .bridge {
            // A step of the bridge hooks (ebtables, an nft bridge table), in a walk with IP steps or not.
            w.nextKey(",\"family\":\"bridge\"")
        }
        w.nextKey(",\"table\":")
        w.string(step.pointee.event.table)
        w.nextKey(",\"chain\":")
        w.string(step.pointee.event.chain)
        w.nextKey(",\"kind\":")
        w.string(JSONNames.name(step.pointee.event.kind))
        switch step.pointee.event.rule {
        case .number(let n):
            w.nextKey(",\"rule\":")
            w.integer(Int64(n))
        case .handle(let h):
            w.nextKey(",\"rule\":null,\"handle\":")
            w.unsigned(h)
        case nil: w.nextKey(",\"rule\":null")
        }
        w.nextKey(",\"verdict\":")
        if let verdict = step.pointee.verdict { writeVerdict(verdict, to: w) } else { w.null() }
        w.nextKey(",\"verdict_inferred\":")
        w.value(step.pointee.verdictInferred)
        w.nextKey(",\"rule_text\":")
        w.value(step.pointee.event.ruleText)
        w.nextKey(",\"in\":")
        w.value(step.pointee.event.inIface)
        w.nextKey(",\"out\":")
        w.value(step.pointee.event.outIface)
        if let physIn = step.pointee.event.physIn {
            w.nextKey(",\"physin\":")
            w.string(physIn)
        }
        if let physOut = step.pointee.event.physOut {
            w.nextKey(",\"physout\":")
            w.string(physOut)
        }
        writeHeader(step, to: w)
        if let prefix = step.pointee.event.prefix {
            w.nextKey(",\"prefix\":")
            w.string(prefix)
        }
        if let id = step.pointee.event.traceID {
            w.nextKey(",\"trace_id\":\"")
            w.hex8(id)
            w.byte(UInt8(ascii: "\""))
        }
        w.nextKey(",\"origin\":")
        w.string(JSONNames.name(step.pointee.event.origin))
        // `source.description` ("file:line"), written in place.
        w.nextKey(",\"source\":\"")
        w.repeatedStringBody(step.pointee.event.source.file)
        w.byte(UInt8(ascii: ":"))
        w.integer(Int64(step.pointee.event.source.line))
        w.byte(UInt8(ascii: "\""))
        if let explain {
            w.nextKey(",\"explain\":")
            w.string(explain)
        }
        w.endObject()
    }

    /// The packet as this step saw it (nothing when the step has no header).
    static func writeHeader(_ step: UnsafePointer<WalkStep>, to w: JSONWriter) {
        guard step.pointee.event.hasHeader else { return }
        // Fields are read in place: binding the header would copy it (and retain its strings).
        let h = step
        w.nextKey(",\"src\":")
        w.value(h.pointee.event.headerValue.src)
        w.nextKey(",\"dst\":")
        w.value(h.pointee.event.headerValue.dst)
        w.nextKey(",\"sport\":")
        w.value(h.pointee.event.headerValue.sport)
        w.nextKey(",\"dport\":")
        w.value(h.pointee.event.headerValue.dport)
        w.nextKey(",\"ttl\":")
        w.value(h.pointee.event.headerValue.ttl)
        w.nextKey(",\"id\":")
        w.value(h.pointee.event.headerValue.ipID)
        w.nextKey(",\"len\":")
        w.value(h.pointee.event.headerValue.length)
        if let seq = h.pointee.event.headerValue.tcpSeq {
            w.nextKey(",\"seq\":")
            w.unsigned(UInt64(seq))
        }
        let flags = h.pointee.event.headerValue.tcpFlags
        if !flags.isEmpty {
            w.nextKey(",\"tcp_flags\":")
            w.tcpFlags(flags)
        }
        if h.pointee.event.headerValue.icmpType != nil {
            w.nextKey(",\"icmp_type\":")
            w.value(h.pointee.event.headerValue.icmpType)
            w.nextKey(",\"icmp_code\":")
            w.value(h.pointee.event.headerValue.icmpCode)
        }
        if let mark = h.pointee.event.headerValue.mark {
            w.nextKey(",\"mark\":")
            w.unsigned(UInt64(mark))
        }
        if let uid = h.pointee.event.headerValue.uid {
            w.nextKey(",\"uid\":")
            w.unsigned(UInt64(uid))
        }
        if let ct = h.pointee.event.headerValue.conntrack {
            w.beginObject("ct")
            w.field("state", ct.state)
            w.field("direction", ct.direction)
            w.field("status", ct.status)
            w.field("id", ct.id)
            w.endObject()
        }
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
            w.stringBody(chain.string)
            w.byte(UInt8(ascii: "\""))
        case .goto(let chain):
            w.raw("\"goto ")
            w.stringBody(chain.string)
            w.byte(UInt8(ascii: "\""))
        case .other(let text): w.string(text.string)
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
