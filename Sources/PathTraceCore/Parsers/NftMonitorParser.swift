/// Parses `nft monitor trace` output.
///
/// Every line starts `trace id %08x <family> <table> <chain> ` and then holds one of:
/// * `conntrack: ct direction … ct state … ct status … ct id …` (kernels ≥ 6.16 only), printed just
///   before the `packet:` line of the same message;
/// * `packet: iif "…" oif "…" ether saddr … ip saddr … tcp dport …`: the packet as it entered this
///   base chain. It produces no event; it is kept per trace id and attached to the rule, policy and
///   return records of that id that follow, until the next dump for the id;
/// * `rule <text> [# handle N] (verdict <v>)` or `unknown rule handle N (verdict <v>)`;
/// * `policy accept|drop [meta mark 0x…]`;
/// * `verdict continue|return [meta mark 0x…]` (end of a chain, or an explicit return).
///
/// Checked against nftables 1.0.6 on Linux 6.18 (`Fixtures/captures/nft-monitor-*.txt`).
struct NftMonitorParser {
    var packets = MonitorPacketStore(capacity: 1024)
    /// The `conntrack:` items of the message being printed, waiting for its `packet:` line.
    var pendingConntrack: (id: UInt32, items: [String])?
    /// The id whose `packet:` line was the last record: the next record of that id opens a base chain
    /// (the kernel dumps the packet with the first event of each base chain, in the same message).
    var dumpedID: UInt32?

    mutating func parse(_ line: UnsafeBufferPointer<UInt8>, at position: SourcePosition, emit: (TraceEvent) -> Void)
        -> LineStatus
    {
        var s = MonitorScanner(line)
        s.skipSpaces()
        guard s.consume("trace id ") else { return .notMine }
        guard let idToken = s.token(), idToken.count <= 8, !s.hasPrefix(idToken, "0x"),
            let idValue = s.hex(idToken)
        else { return .notMine }
        let id = UInt32(idValue)
        guard let familyToken = s.token() else { return .malformed("nft trace record without a family") }
        let familyWord = s.string(familyToken)
        switch familyWord {
        case "ip", "ip6", "inet", "arp", "bridge", "netdev": break
        default: return .notMine
        }
        guard let tableToken = s.token(), let chainToken = s.token() else {
            return .malformed("nft trace record without table and chain")
        }
        let table = s.string(tableToken)
        let chain = s.string(chainToken)
        s.skipSpaces()

        if s.consume("packet:") {
            var entry = NftMonitorParser.decodePacket(&s)
            if let pending = pendingConntrack, pending.id == id { entry.header.extra.append(contentsOf: pending.items) }
            pendingConntrack = nil
            packets.store(entry, for: id)
            dumpedID = id
            return .recognized
        }
        if s.consume("conntrack:") {
            let items = NftMonitorParser.conntrackItems(&s)
            pendingConntrack = (id, items)
            return .recognized
        }

        var event = TraceEvent(
            source: position, origin: .nftMonitor, family: .ipv4, table: table, chain: chain, kind: .rule)
        event.traceID = id
        event.tableFamily = familyWord
        event.startsChain = dumpedID == id
        dumpedID = nil
        let stored = packets[id]
        event.family = NftMonitorParser.family(tableFamily: familyWord, packet: stored?.family)
        if let stored {
            event.header = stored.header
            event.inIface = stored.inIface
            event.outIface = stored.outIface
        }

        if s.consume("unknown rule handle") {
            guard let h = s.token(), let handle = s.decimal(h) else {
                return .malformed("nft trace: unknown rule without a handle")
            }
            event.rule = .handle(handle)
            event.verdict = NftMonitorParser.parenthesisedVerdict(s, in: s.rest)
            emit(event)
            return .recognized
        }
        if s.peek("rule ") || (s.rest.count == 4 && s.peek("rule")) {
            s.index += 4
            NftMonitorParser.readRule(s, into: &event)
            emit(event)
            return .recognized
        }
        if s.consume("policy ") {
            event.kind = .policy
            guard let v = s.token() else { return .malformed("nft trace: policy without a verdict") }
            event.verdict = StepVerdict(s.string(v))
            NftMonitorParser.applyMark(&s, to: &event)
            emit(event)
            return .recognized
        }
        if s.consume("verdict ") {
            event.kind = .return
            guard let v = s.token() else { return .malformed("nft trace: return without a verdict") }
            var text = s.string(v)
            if text == "jump" || text == "goto", let target = s.token() { text += " " + s.string(target) }
            event.verdict = StepVerdict(text)
            NftMonitorParser.applyMark(&s, to: &event)
            emit(event)
            return .recognized
        }
        return .malformed("nft trace: unknown record after the chain name")
    }

    /// The event family: fixed by ip, ip6, arp and bridge tables; the packet's own for inet and netdev.
    static func family(tableFamily: String, packet: Family?) -> Family {
        switch tableFamily {
        case "ip": return .ipv4
        case "ip6": return .ipv6
        case "arp": return .arp
        case "bridge": return .bridge
        default: return packet ?? .ipv4
        }
    }

    /// `<text> [# handle N] (verdict <v>)`: the rule text, its handle when printed (`nft -a`), and
    /// the verdict. The handle comment is removed from the text so the text is the same with and
    /// without `-a`.
    static func readRule(_ s: MonitorScanner, into event: inout TraceEvent) {
        let all = s.rest
        var textRange = all
        if let open = s.lastIndex(of: "(verdict ", in: all) {
            textRange = all.lowerBound..<open
            event.verdict = parenthesisedVerdict(s, in: open..<all.upperBound)
        }
        textRange = s.trimmed(textRange)
        if let h = s.lastIndex(of: "handle ", in: textRange) {
            let digits = s.trimmed((h + 7)..<textRange.upperBound)
            if let handle = s.decimal(digits), h == textRange.lowerBound || s.bytes[h - 1] == 32 {
                event.rule = .handle(handle)
                var cut = s.trimmed(textRange.lowerBound..<h)
                if cut.count > 0, s.bytes[cut.upperBound - 1] == UInt8(ascii: "#") {
                    cut = s.trimmed(cut.lowerBound..<(cut.upperBound - 1))
                }
                textRange = cut
            }
        }
        event.ruleText = s.string(textRange)
    }

    /// The verdict inside `(verdict …)` within `r`, if any.
    static func parenthesisedVerdict(_ s: MonitorScanner, in r: Range<Int>) -> StepVerdict? {
        guard let open = s.firstIndex(of: "(verdict ", in: r) else { return nil }
        var inner = (open + 9)..<r.upperBound
        if inner.count > 0, s.bytes[inner.upperBound - 1] == UInt8(ascii: ")") {
            inner = inner.lowerBound..<(inner.upperBound - 1)
        }
        let text = s.string(s.trimmed(inner))
        return text.isEmpty ? nil : StepVerdict(text)
    }

    /// `meta mark 0x…` after a policy or return verdict: the mark goes into the event's header.
    static func applyMark(_ s: inout MonitorScanner, to event: inout TraceEvent) {
        while let t = s.token() {
            guard s.equals(t, "meta"), let k = s.token(), s.equals(k, "mark"), var v = s.token() else { continue }
            if s.equals(v, "=="), let next = s.token() { v = next }
            guard let mark = s.number(v) else { continue }
            if event.header != nil { event.header?.mark = UInt32(truncatingIfNeeded: mark) }
        }
    }

    /// `ct direction original ct state new ct status dnat-done ct id 32` → one item per `ct` statement.
    static func conntrackItems(_ s: inout MonitorScanner) -> [String] {
        var items: [String] = []
        var current = ""
        while let t = s.token() {
            let word = s.string(t)
            if word == "ct" && !current.isEmpty {
                items.append(current)
                current = ""
            }
            current += current.isEmpty ? word : " " + word
        }
        if !current.isEmpty { items.append(current) }
        return items
    }

    // MARK: packet dump

    /// Decodes the statements of a `packet:` line (`ether saddr …`, `ip daddr …`, `tcp flags == syn`, …).
    ///
    /// Each statement is `<protocol> <field> [==] <value>[ | <value>…]`, except `iif`/`oif` (one
    /// value) and raw payload `@th,64,96 <value>`. Fields pathtrace does not model are kept verbatim
    /// in `extra`.
    static func decodePacket(_ s: inout MonitorScanner) -> MonitorPacketStore.Entry {
        var entry = MonitorPacketStore.Entry(header: PacketHeader())
        var dscp: UInt8?
        var ecn: UInt8?
        while let first = s.token() {
            if s.bytes[first.lowerBound] == UInt8(ascii: "@") {
                if let v = s.token() {
                    entry.header.extra.append(s.string(first) + " " + s.string(v))
                } else {
                    entry.header.extra.append(s.string(first))
                }
                continue
            }
            let proto = s.string(first)
            if proto == "iif" || proto == "oif" {
                guard let v = s.quotedOrToken() else { break }
                let name = s.string(v)
                if proto == "iif" { entry.inIface = name } else { entry.outIface = name }
                continue
            }
            guard let fieldToken = s.token() else {
                entry.header.extra.append(proto)
                break
            }
            var field = s.string(fieldToken)
            if proto == "arp", field == "saddr" || field == "daddr", let sub = s.peekToken(),
                s.equals(sub, "ip") || s.equals(sub, "ether")
            {
                _ = s.token()
                field += " " + s.string(sub)
            }
            guard var valueToken = s.quotedOrToken() else {
                entry.header.extra.append(proto + " " + field)
                break
            }
            var op = ""
            if s.equals(valueToken, "==") || s.equals(valueToken, "!=") {
                op = s.string(valueToken) + " "
                guard let v = s.quotedOrToken() else { break }
                valueToken = v
            }
            var value = s.string(valueToken)
            while let next = s.peekToken(), s.equals(next, "|") {
                _ = s.token()
                guard let more = s.token() else { break }
                value += " | " + s.string(more)
            }
            if !apply(proto, field, value, to: &entry, dscp: &dscp, ecn: &ecn) {
                entry.header.extra.append(proto + " " + field + " " + op + value)
            }
        }
        if dscp != nil || ecn != nil {
            entry.header.tos = (dscp ?? 0) << 2 | (ecn ?? 0)
        }
        return entry
    }

    /// Stores one statement in the header; false when it is not modelled (the caller keeps it verbatim).
    static func apply(
        _ proto: String, _ field: String, _ value: String, to entry: inout MonitorPacketStore.Entry,
        dscp: inout UInt8?, ecn: inout UInt8?
    ) -> Bool {
        switch (proto, field) {
        case ("ether", "saddr"):
            entry.header.macSrc = MonitorFormat.normalizedMAC(value)
        case ("ether", "daddr"):
            entry.header.macDst = MonitorFormat.normalizedMAC(value)
        case ("ether", "type"):
            guard let t = NftSymbols.etherType(value) else { return false }
            entry.header.macProto = t
        case ("ip", "saddr"), ("ip6", "saddr"):
            guard let a = IPAddress(value) else { return false }
            entry.header.src = a
            entry.family = a.isV6 ? .ipv6 : .ipv4
        case ("ip", "daddr"), ("ip6", "daddr"):
            guard let a = IPAddress(value) else { return false }
            entry.header.dst = a
            entry.family = a.isV6 ? .ipv6 : .ipv4
        case ("ip", "dscp"), ("ip6", "dscp"):
            guard let d = NftSymbols.dscp(value) else { return false }
            dscp = d
        case ("ip", "ecn"), ("ip6", "ecn"):
            guard let e = NftSymbols.ecn(value) else { return false }
            ecn = e
        case ("ip", "ttl"), ("ip6", "hoplimit"):
            guard let t = UInt8(value) else { return false }
            entry.header.ttl = t
        case ("ip", "id"):
            guard let v = UInt32(value) else { return false }
            entry.header.ipID = v
        case ("ip", "protocol"), ("ip6", "nexthdr"):
            guard let p = IPProtocol.number(value) else { return false }
            entry.header.proto = p
        case ("ip", "length"):
            guard let v = UInt32(value) else { return false }
            entry.header.length = v
        case ("ip6", "length"):
            // nft prints the IPv6 payload length; the model holds payload + 40 like the kernel log.
            guard let v = UInt32(value) else { return false }
            entry.header.length = v + 40
        case ("ip", "frag-off"):
            guard let v = value.hasPrefix("0x") ? UInt16(value.dropFirst(2), radix: 16) : UInt16(value) else {
                return false
            }
            if v & 0x8000 != 0 { entry.header.ipFlags.insert(.ce) }
            if v & 0x4000 != 0 { entry.header.ipFlags.insert(.df) }
            if v & 0x2000 != 0 { entry.header.ipFlags.insert(.mf) }
            if v & 0x1fff != 0 { entry.header.fragment = UInt32(v & 0x1fff) }
        case ("tcp", "sport"), ("udp", "sport"), ("udplite", "sport"), ("sctp", "sport"), ("dccp", "sport"):
            guard let p = UInt16(value) else { return false }
            entry.header.sport = p
            setTransport(proto, &entry.header)
        case ("tcp", "dport"), ("udp", "dport"), ("udplite", "dport"), ("sctp", "dport"), ("dccp", "dport"):
            guard let p = UInt16(value) else { return false }
            entry.header.dport = p
            setTransport(proto, &entry.header)
        case ("tcp", "flags"):
            guard let f = NftSymbols.tcpFlags(value) else { return false }
            entry.header.tcpFlags = f
            setTransport(proto, &entry.header)
        case ("tcp", "window"):
            guard let w = UInt16(value) else { return false }
            entry.header.window = w
        case ("tcp", "sequence"):
            guard let v = UInt32(value) else { return false }
            entry.header.tcpSeq = v
        case ("tcp", "ackseq"):
            guard let v = UInt32(value) else { return false }
            entry.header.tcpAck = v
        case ("icmp", "type"):
            guard let t = NftSymbols.icmpType(value) else { return false }
            entry.header.icmpType = t
            setTransport(proto, &entry.header)
        case ("icmpv6", "type"):
            guard let t = NftSymbols.icmpv6Type(value) else { return false }
            entry.header.icmpType = t
            setTransport(proto, &entry.header)
        case ("icmp", "code"):
            guard let c = NftSymbols.icmpCode(value) else { return false }
            entry.header.icmpCode = c
        case ("icmpv6", "code"):
            guard let c = NftSymbols.icmpv6Code(value) else { return false }
            entry.header.icmpCode = c
        case ("icmp", "id"), ("icmpv6", "id"):
            guard let v = UInt16(value) else { return false }
            entry.header.icmpID = v
        case ("icmp", "sequence"), ("icmpv6", "sequence"):
            guard let v = UInt16(value) else { return false }
            entry.header.icmpSeq = v
        case ("icmpv6", "parameter-problem"):
            // nft 1.0.6 decodes the 32 bits after the ICMPv6 checksum with the first template that
            // covers them, so an echo's identifier and sequence print as `parameter-problem N`.
            guard let t = entry.header.icmpType, t == 128 || t == 129, let v = UInt32(value) else { return false }
            entry.header.icmpID = UInt16(v >> 16)
            entry.header.icmpSeq = UInt16(v & 0xFFFF)
        case ("arp", "saddr ip"):
            guard let a = IPAddress(value) else { return false }
            entry.header.src = a
            entry.family = .arp
        case ("arp", "daddr ip"):
            guard let a = IPAddress(value) else { return false }
            entry.header.dst = a
            entry.family = .arp
        default:
            return false
        }
        return true
    }

    /// Sets the IP protocol from a transport statement when no `ip protocol` statement gave it.
    static func setTransport(_ proto: String, _ header: inout PacketHeader) {
        guard header.proto == nil else { return }
        switch proto {
        case "dccp": header.proto = 33
        default: header.proto = IPProtocol.number(proto)
        }
    }
}
