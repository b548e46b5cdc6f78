import Foundation

/// Reads the events `pathtrace --save` wrote (one JSON object per line, `{"pathtrace-event":1,…}`).
struct SavedEventParser {
    static let marker = Array(#"{"pathtrace-event":"#.utf8)

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, at position: SourcePosition, emit: (TraceEvent) -> Void)
        -> LineStatus
    {
        guard line.count > SavedEventParser.marker.count,
            line.starts(with: SavedEventParser.marker)
        else { return .notMine }
        return SavedEventParser.byBytes(line, at: position, emit: emit)
            ?? SavedEventParser.byFoundation(line, at: position, emit: emit)
    }

    /// The line read by `SavedEventJSON`; nil when only JSONSerialization can tell.
    static func byBytes(_ line: UnsafeBufferPointer<UInt8>, at position: SourcePosition, emit: (TraceEvent) -> Void)
        -> LineStatus?
    {
        switch SavedEventJSON.read(line) {
        case .parsed(let json):
            var object = SavedEventJSON.Object(json, json.members)
            return try? SavedEventParser.event(&object, at: position, emit: emit)
        case .invalid: return notJSON
        case .unsure: return nil
        }
    }

    static func byFoundation(
        _ line: UnsafeBufferPointer<UInt8>, at position: SourcePosition, emit: (TraceEvent) -> Void
    ) -> LineStatus {
        guard let dictionary = try? JSONSerialization.jsonObject(with: Data(buffer: line)) as? [String: Any] else {
            return notJSON
        }
        var object = SavedEventDictionary(object: dictionary)
        return (try? SavedEventParser.event(&object, at: position, emit: emit)) ?? notJSON
    }

    static let notJSON = LineStatus.malformed("saved event: not valid JSON, or an unknown version")

    /// The event of a line read as JSON; throws (`SavedEventJSON.Unsure`) when the reader cannot
    /// answer as JSONSerialization would, so that the caller asks it.
    static func event<Object: SavedEventObject>(
        _ object: inout Object, at position: SourcePosition, emit: (TraceEvent) -> Void
    ) throws -> LineStatus {
        guard try object.int("pathtrace-event") == 1 else { return notJSON }
        // Read in the order `--save` writes the fields, so each lookup finds its key right after the
        // last one's: out of order, the lookups of a saved nft event scanned 200 instructions each.
        let time = try object.double("time")
        let basis = try object.string("time_basis").flatMap(TimeBasis.init(rawValue:))
        let origin = try object.string("origin").flatMap(EventOrigin.init(rawValue:))
        let family = try object.string("family").flatMap(Family.init(rawValue:))
        let hook = try object.string("hook").flatMap(Hook.init(rawValue:))
        let table = try object.string("table")
        let chain = try object.string("chain")
        let kind = try object.string("kind").flatMap(StepKind.init(rawValue:))
        guard let origin, let family, let kind, let table, let chain else {
            return .malformed("saved event: origin, family, kind, table or chain missing")
        }
        var e = TraceEvent(source: position, origin: origin, family: family, table: table, chain: chain, kind: kind)
        e.time = time
        if let basis { e.timeBasis = basis }
        e.hook = hook
        if let n = try object.int("rule") { e.rule = .number(n) }
        if let h = try object.uint64("handle") { e.rule = .handle(h) }
        e.ruleText = try object.string("rule_text")
        e.verdict = try object.string("verdict").map(StepVerdict.init)
        e.inIface = try object.string("in")
        e.outIface = try object.string("out")
        e.physIn = try object.string("physin")
        e.physOut = try object.string("physout")
        e.traceID = try object.int("trace_id").flatMap(UInt32.init(exactly:))
        e.prefix = try object.string("prefix")
        e.tableFamily = try object.string("table_family")
        e.netns = try object.string("netns")
        if var h = try object.object("header") { e.header = try header(&h) }
        emit(e)
        return .recognized
    }

    static func header<Object: SavedEventObject>(_ o: inout Object) throws -> PacketHeader {
        func int<T: FixedWidthInteger>(_ key: StaticString) throws -> T? { try o.int(key).flatMap(T.init(exactly:)) }
        var h = PacketHeader()
        h.src = try o.string("src").flatMap(IPAddress.init)
        h.dst = try o.string("dst").flatMap(IPAddress.init)
        h.proto = try int("proto")
        h.sport = try int("sport")
        h.dport = try int("dport")
        h.ipID = try int("id")
        h.ttl = try int("ttl")
        h.length = try int("len")
        h.tos = try int("tos")
        h.ipFlags = IPFlags(rawValue: try int("ip_flags") ?? 0)
        h.fragment = try int("frag")
        h.tcpSeq = try int("seq")
        h.tcpAck = try int("ack")
        h.tcpFlags = TCPFlags(rawValue: try int("tcp_flags") ?? 0)
        h.window = try int("window")
        h.icmpType = try int("icmp_type")
        h.icmpCode = try int("icmp_code")
        h.icmpID = try int("icmp_id")
        h.icmpSeq = try int("icmp_seq")
        h.mark = try int("mark")
        h.uid = try int("uid")
        h.gid = try int("gid")
        h.macSrc = try o.string("mac_src")
        h.macDst = try o.string("mac_dst")
        h.macProto = try int("mac_proto")
        h.incompleteBytes = try o.int("incomplete")
        if var inner = try o.object("embedded") {
            var x = EmbeddedHeader()
            x.src = try inner.string("src").flatMap(IPAddress.init)
            x.dst = try inner.string("dst").flatMap(IPAddress.init)
            x.proto = try inner.int("proto").flatMap(UInt8.init(exactly:))
            x.sport = try inner.int("sport").flatMap(UInt16.init(exactly:))
            x.dport = try inner.int("dport").flatMap(UInt16.init(exactly:))
            x.ipID = try inner.int("id").flatMap(UInt32.init(exactly:))
            x.length = try inner.int("len").flatMap(UInt32.init(exactly:))
            h.embedded = x
        }
        h.extra = try o.strings("extra") ?? []
        return h
    }
}
