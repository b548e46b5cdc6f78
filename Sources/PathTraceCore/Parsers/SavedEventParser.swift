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
        guard let object = try? JSONSerialization.jsonObject(with: Data(buffer: line)) as? [String: Any],
            object["pathtrace-event"] as? Int == 1
        else { return .malformed("saved event: not valid JSON, or an unknown version") }
        guard let origin = (object["origin"] as? String).flatMap(EventOrigin.init(rawValue:)),
            let family = (object["family"] as? String).flatMap(Family.init(rawValue:)),
            let kind = (object["kind"] as? String).flatMap(StepKind.init(rawValue:)),
            let table = object["table"] as? String, let chain = object["chain"] as? String
        else { return .malformed("saved event: origin, family, kind, table or chain missing") }
        var e = TraceEvent(source: position, origin: origin, family: family, table: table, chain: chain, kind: kind)
        e.time = object["time"] as? Double
        if let basis = (object["time_basis"] as? String).flatMap(TimeBasis.init(rawValue:)) { e.timeBasis = basis }
        e.hook = (object["hook"] as? String).flatMap(Hook.init(rawValue:))
        if let n = object["rule"] as? Int { e.rule = .number(n) }
        if let h = object["handle"] as? UInt64 { e.rule = .handle(h) }
        e.ruleText = object["rule_text"] as? String
        e.verdict = (object["verdict"] as? String).map(StepVerdict.init)
        e.inIface = object["in"] as? String
        e.outIface = object["out"] as? String
        e.physIn = object["physin"] as? String
        e.physOut = object["physout"] as? String
        e.traceID = (object["trace_id"] as? Int).flatMap(UInt32.init(exactly:))
        e.prefix = object["prefix"] as? String
        e.tableFamily = object["table_family"] as? String
        e.netns = object["netns"] as? String
        if let h = object["header"] as? [String: Any] { e.header = SavedEventParser.header(h) }
        emit(e)
        return .recognized
    }

    static func header(_ o: [String: Any]) -> PacketHeader {
        func int<T: FixedWidthInteger>(_ key: String) -> T? { (o[key] as? Int).flatMap(T.init(exactly:)) }
        var h = PacketHeader()
        h.src = (o["src"] as? String).flatMap(IPAddress.init)
        h.dst = (o["dst"] as? String).flatMap(IPAddress.init)
        h.proto = int("proto")
        h.sport = int("sport")
        h.dport = int("dport")
        h.ipID = int("id")
        h.ttl = int("ttl")
        h.length = int("len")
        h.tos = int("tos")
        h.ipFlags = IPFlags(rawValue: int("ip_flags") ?? 0)
        h.fragment = int("frag")
        h.tcpSeq = int("seq")
        h.tcpAck = int("ack")
        h.tcpFlags = TCPFlags(rawValue: int("tcp_flags") ?? 0)
        h.window = int("window")
        h.icmpType = int("icmp_type")
        h.icmpCode = int("icmp_code")
        h.icmpID = int("icmp_id")
        h.icmpSeq = int("icmp_seq")
        h.mark = int("mark")
        h.uid = int("uid")
        h.gid = int("gid")
        h.macSrc = o["mac_src"] as? String
        h.macDst = o["mac_dst"] as? String
        h.macProto = int("mac_proto")
        h.incompleteBytes = o["incomplete"] as? Int
        if let inner = o["embedded"] as? [String: Any] {
            var x = EmbeddedHeader()
            x.src = (inner["src"] as? String).flatMap(IPAddress.init)
            x.dst = (inner["dst"] as? String).flatMap(IPAddress.init)
            x.proto = (inner["proto"] as? Int).flatMap(UInt8.init(exactly:))
            x.sport = (inner["sport"] as? Int).flatMap(UInt16.init(exactly:))
            x.dport = (inner["dport"] as? Int).flatMap(UInt16.init(exactly:))
            x.ipID = (inner["id"] as? Int).flatMap(UInt32.init(exactly:))
            x.length = (inner["len"] as? Int).flatMap(UInt32.init(exactly:))
            h.embedded = x
        }
        h.extra = o["extra"] as? [String] ?? []
        return h
    }
}
