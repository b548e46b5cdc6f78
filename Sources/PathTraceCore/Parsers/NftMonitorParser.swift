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
    /// Switches on the protocol, then on the field: one switch over the pairs compared both Strings
    /// case by case, most of a `packet:` line's cost (callgrind, mutated input of `make bench`).
    static func apply(
        _ proto: String, _ field: String, _ value: String, to entry: inout MonitorPacketStore.Entry,
        dscp: inout UInt8?, ecn: inout UInt8?
    ) -> Bool {
        switch proto {
        case "ether": return applyEther(field, value, to: &entry)
        case "ip", "ip6": return applyIP(proto == "ip6", field, value, to: &entry, dscp: &dscp, ecn: &ecn)
        case "tcp", "udp", "udplite", "sctp", "dccp": return applyTransport(proto, field, value, to: &entry)
        case "icmp", "icmpv6": return applyICMP(proto == "icmpv6", field, value, to: &entry)
        case "arp":
            switch field {
            case "saddr ip":
                guard let a = IPAddress(value) else { return false }
                entry.header.src = a
            case "daddr ip":
                guard let a = IPAddress(value) else { return false }
                entry.header.dst = a
            default: return false
            }
            entry.family = .arp
            return true
        default: return false
        }
    }

    private static func applyEther(_ field: String, _ value: String, to entry: inout MonitorPacketStore.Entry) -> Bool {
        switch field {
        case "saddr": entry.header.macSrc = MonitorFormat.normalizedMAC(value)
        case "daddr": entry.header.macDst = MonitorFormat.normalizedMAC(value)
        case "type":
            guard let t = NftSymbols.etherType(value) else { return false }
            entry.header.macProto = t
        default: return false
        }
        return true
    }

    private static func applyIP(
        _ v6: Bool, _ field: String, _ value: String, to entry: inout MonitorPacketStore.Entry,
        dscp: inout UInt8?, ecn: inout UInt8?
    ) -> Bool {
        switch field {
        case "saddr":
            guard let a = IPAddress(value) else { return false }
            entry.header.src = a
            entry.family = a.isV6 ? .ipv6 : .ipv4
        case "daddr":
            guard let a = IPAddress(value) else { return false }
            entry.header.dst = a
            entry.family = a.isV6 ? .ipv6 : .ipv4
        case "dscp":
            guard let d = NftSymbols.dscp(value) else { return false }
            dscp = d
        case "ecn":
            guard let e = NftSymbols.ecn(value) else { return false }
            ecn = e
        case "ttl" where !v6, "hoplimit" where v6:
            guard let t = UInt8(value) else { return false }
            entry.header.ttl = t
        case "id" where !v6:
            guard let v = UInt32(value) else { return false }
            entry.header.ipID = v
        case "protocol" where !v6, "nexthdr" where v6:
            guard let p = IPProtocol.number(value) else { return false }
            entry.header.proto = p
        case "length":
            // nft prints the IPv6 payload length; the model holds payload + 40 like the kernel log.
            guard let v = UInt32(value) else { return false }
            entry.header.length = v6 ? v + 40 : v
        case "frag-off" where !v6:
            guard let v = value.hasPrefix("0x") ? UInt16(value.dropFirst(2), radix: 16) : UInt16(value) else {
                return false
            }
            if v & 0x8000 != 0 { entry.header.ipFlags.insert(.ce) }
            if v & 0x4000 != 0 { entry.header.ipFlags.insert(.df) }
            if v & 0x2000 != 0 { entry.header.ipFlags.insert(.mf) }
            if v & 0x1fff != 0 { entry.header.fragment = UInt32(v & 0x1fff) }
        default: return false
        }
        return true
    }

    /// tcp, udp, udplite, sctp and dccp statements; only tcp has more than the ports.
    private static func applyTransport(
        _ proto: String, _ field: String, _ value: String, to entry: inout MonitorPacketStore.Entry
    ) -> Bool {
        let tcp = proto == "tcp"
        switch field {
        case "sport":
            guard let p = UInt16(value) else { return false }
            entry.header.sport = p
            setTransport(proto, &entry.header)
        case "dport":
            guard let p = UInt16(value) else { return false }
            entry.header.dport = p
            setTransport(proto, &entry.header)
        case "flags" where tcp:
            guard let f = NftSymbols.tcpFlags(value) else { return false }
            entry.header.tcpFlags = f
            setTransport(proto, &entry.header)
        case "window" where tcp:
            guard let w = UInt16(value) else { return false }
            entry.header.window = w
        case "sequence" where tcp:
            guard let v = UInt32(value) else { return false }
            entry.header.tcpSeq = v
        case "ackseq" where tcp:
            guard let v = UInt32(value) else { return false }
            entry.header.tcpAck = v
        default: return false
        }
        return true
    }

    private static func applyICMP(
        _ v6: Bool, _ field: String, _ value: String, to entry: inout MonitorPacketStore.Entry
    )
        -> Bool
    {
        switch field {
        case "type":
            guard let t = v6 ? NftSymbols.icmpv6Type(value) : NftSymbols.icmpType(value) else { return false }
            entry.header.icmpType = t
            setTransport(v6 ? "icmpv6" : "icmp", &entry.header)
        case "code":
            guard let c = v6 ? NftSymbols.icmpv6Code(value) : NftSymbols.icmpCode(value) else { return false }
            entry.header.icmpCode = c
        case "id":
            guard let v = UInt16(value) else { return false }
            entry.header.icmpID = v
        case "sequence":
            guard let v = UInt16(value) else { return false }
            entry.header.icmpSeq = v
        case "parameter-problem" where v6:
            // nft 1.0.6 decodes the 32 bits after the ICMPv6 checksum with the first template that
            // covers them, so an echo's identifier and sequence print as `parameter-problem N`.
            guard let t = entry.header.icmpType, t == 128 || t == 129, let v = UInt32(value) else { return false }
            entry.header.icmpID = UInt16(v >> 16)
            entry.header.icmpSeq = UInt16(v & 0xFFFF)
        default: return false
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
