/// What conntrack knew of the packet when a base chain ran: nft ≥ 1.1 prints it as a `conntrack:`
/// record before the chain's `packet:` line (Linux ≥ 6.16 sends the attributes).
///
/// nftables `src/trace.c`, `trace_print_ct()`: `ct direction <original|reply>`, `ct state <new|
/// established|related|untracked>`, `ct status <bit>,<bit>…` (only when non-zero) and `ct id <decimal>`,
/// each item followed by a space; the kernel sends nothing before conntrack ran (raw priority).
public struct ConntrackRecord: Equatable, Sendable {
    /// `new`, `established`, `related`, `untracked` (as printed).
    public var state: String?
    /// `original` or `reply`.
    public var direction: String?
    /// The status bits as printed, comma-separated (`seen-reply,assured,confirmed`).
    public var status: String?
    /// The conntrack entry's id: the same for every packet of a connection, both directions.
    public var id: UInt32?

    public init(state: String? = nil, direction: String? = nil, status: String? = nil, id: UInt32? = nil) {
        self.state = state
        self.direction = direction
        self.status = status
        self.id = id
    }

    /// Whether the packet opened its connection (`ct state new`): the only one nat chains see.
    public var isNew: Bool { state?.split(separator: ",").contains("new") ?? false }

    /// Reads the `ct <key> <value>` items a parser kept in a header's `extra`; nil when there are none.
    init?(items: [String]) {
        var found = false
        for item in items where item.hasPrefix("ct ") {
            let words = item.split(separator: " ", maxSplits: 2)
            guard words.count == 3 else { continue }
            let value = String(words[2])
            switch words[1] {
            case "state": state = value
            case "direction": direction = value
            case "status": status = value
            case "id": id = UInt32(value)
            default: continue
            }
            found = true
        }
        if !found { return nil }
    }
}

extension PacketHeader {
    /// The `conntrack:` record printed with this packet dump (nft ≥ 1.1), kept as `ct …` items in `extra`.
    public var conntrack: ConntrackRecord? {
        let items = extra
        return items.isEmpty ? nil : ConntrackRecord(items: items)
    }
}
