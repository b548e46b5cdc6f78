/// Links later packets and replies of a NATed connection to the walk that opened it, and releases
/// walks in packet order.
///
/// The nat table runs only for a connection's first packet; later packets are translated silently
/// by conntrack. Linking them to the first walk names the translation, and a reply seen de-NATed
/// fills in what the first walk could not see (MASQUERADE's address) with evidence `reply`.
/// A walk whose NAT result is still unknown is held (up to `holdEvents` events) for that reply.
struct ReplyLinker {
    struct FlowKey: Hashable {
        var proto: UInt8
        var src: IPAddress
        var sport: UInt16?
        var dst: IPAddress
        var dport: UInt16?

        var reversed: FlowKey { FlowKey(proto: proto, src: dst, sport: dport, dst: src, dport: sport) }
    }

    var holdEvents = 4096
    var maxConnections = 65536
    private var closed: [Int: (walk: PacketWalk, closedAt: Int)] = [:]
    private var nextRelease = 1
    /// While nothing was added, `flush` has nothing to do before this event index (the head walk is
    /// missing or held); it then skips the lookup of the head on every event.
    private var idleUntil: Int?
    /// First walks of NATed connections by their tuple before NAT, and after NAT when fully known.
    private var before: [FlowKey: Int] = [:]
    private var after: [FlowKey: Int] = [:]
    /// The NAT of each opening walk, so its translations can be named after it has been released.
    private var openerNat: [Int: [NatRewrite]] = [:]
    private var order = Deque<(FlowKey, Bool, Int)>()
    private let release: (PacketWalk) -> Void

    init(release: @escaping (PacketWalk) -> Void) {
        self.release = release
    }

    /// Takes a closed walk; `lastHeaderIndex` is the index of its last step with a header.
    mutating func add(_ walk: PacketWalk, lastHeaderIndex: Int?, eventIndex: Int) {
        var walk = walk
        let last = lastHeaderIndex.flatMap { walk.steps[$0].event.header.flatMap(ReplyLinker.key) }
        if !link(&walk, last: last) { register(walk) }
        closed[walk.packet] = (walk, eventIndex)
        idleUntil = nil
    }

    /// Releases what is ready; `force` releases everything (end of input).
    mutating func flush(eventIndex: Int, force: Bool = false) {
        if !force, let until = idleUntil, eventIndex < until { return }
        idleUntil = nil
        while let entry = closed[nextRelease] {
            let pending = entry.walk.nat.contains { $0.after == nil && $0.direction == "original" }
            if pending && !force && eventIndex - entry.closedAt < holdEvents {
                idleUntil = entry.closedAt + holdEvents
                return
            }
            closed[nextRelease] = nil
            release(entry.walk)
            nextRelease += 1
        }
        if !force { idleUntil = .max }
        if force {
            for packet in closed.keys.sorted() {
                if let entry = closed.removeValue(forKey: packet) { release(entry.walk) }
            }
        }
    }

    private mutating func register(_ walk: PacketWalk) {
        let opened = walk.nat.contains { $0.direction == "original" && !$0.at.hasPrefix("conntrack") }
        guard opened, let key = ReplyLinker.firstKey(walk) else { return }
        openerNat[walk.packet] = walk.nat
        remember(key, walk.packet, translated: false)
        let all = ReplyLinker.translated(key, walk.nat)
        let dst = ReplyLinker.translated(key, walk.nat, only: "dst")
        if let all { remember(all, walk.packet, translated: true) }
        if let dst, dst != all { remember(dst, walk.packet, translated: true) }
    }

    private mutating func remember(_ key: FlowKey, _ packet: Int, translated: Bool) {
        order.append((key, translated, packet))
        if translated { after[key] = packet } else { before[key] = packet }
        while order.count > maxConnections, let (old, wasTranslated, oldPacket) = order.removeFirst() {
            if wasTranslated { after[old] = nil } else { before[old] = nil }
            openerNat[oldPacket] = nil
        }
    }

    /// Returns whether the walk belongs to a known connection (and so opens none).
    private mutating func link(_ walk: inout PacketWalk, last: FlowKey?) -> Bool {
        guard let first = ReplyLinker.firstKey(walk) else { return false }
        if let opener = before[first], opener != walk.packet {
            walk.connection = opener
            adoptTypes(&walk, from: opener, reply: false)
            return true
        }
        // A reply de-NATed in view matches the opener's tuple; one whose de-NAT is out of view matches
        // the opener's tuple after NAT (all of it, or only its destination side when MASQUERADE's
        // address is not known yet).
        let opener = last.flatMap { before[$0.reversed] } ?? after[first.reversed] ?? last.flatMap { after[$0.reversed] }
        guard let opener, opener != walk.packet else { return false }
        walk.connection = opener
        walk.replyTo = opener
        adoptTypes(&walk, from: opener, reply: true)
        return true
    }

    /// Names conntrack's silent translations after the opening walk's, and lets a reply fill in its unknowns.
    private mutating func adoptTypes(_ walk: inout PacketWalk, from opener: Int, reply: Bool) {
        guard var nat = openerNat[opener] else { return }
        for i in walk.nat.indices where walk.nat[i].at.hasPrefix("conntrack") {
            let field = walk.nat[i].field
            let openerField = reply ? (field == "dst" ? "src" : "dst") : field
            guard let k = nat.firstIndex(where: { $0.field == openerField && $0.direction == "original" })
            else { continue }
            walk.nat[i].type = nat[k].type
            if reply {
                walk.nat[i].direction = "reply"
                if nat[k].evidence < .reply || nat[k].after == nil {
                    nat[k].after = walk.nat[i].before
                    nat[k].evidence = .reply
                }
            }
        }
        openerNat[opener] = nat
        if var entry = closed[opener] {
            entry.walk.nat = nat
            closed[opener] = entry
        }
    }

    /// The key of `walk.firstHeader`, read in place.
    static func firstKey(_ walk: PacketWalk) -> FlowKey? {
        guard let i = walk.steps.firstIndex(where: { $0.event.header != nil }) else { return nil }
        return key(walk.steps[i].event.header!)
    }

    static func key(_ h: borrowing PacketHeader) -> FlowKey? {
        guard let proto = h.proto, let src = h.src, let dst = h.dst else { return nil }
        return FlowKey(proto: proto, src: src, sport: h.natSourcePort, dst: dst, dport: h.natDestinationPort)
    }

    /// The tuple after every translation of the walk (or of one field), when each one's result is known.
    static func translated(_ key: FlowKey, _ nat: [NatRewrite], only field: String? = nil) -> FlowKey? {
        var k = key
        for rewrite in nat where rewrite.direction == "original" && (field == nil || rewrite.field == field) {
            guard let after = rewrite.after, let endpoint = Endpoint(parsing: after) else { return nil }
            if rewrite.field == "src" {
                k.src = endpoint.address
                k.sport = endpoint.port ?? k.sport
            } else {
                k.dst = endpoint.address
                k.dport = endpoint.port ?? k.dport
            }
        }
        return k == key ? nil : k
    }
}

extension Endpoint {
    /// Parses `addr`, `addr:port` or `[v6]:port`.
    init?(parsing text: String) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), let a = IPAddress(String(text[text.index(after: text.startIndex)..<close]))
            else { return nil }
            let rest = text[text.index(after: close)...]
            self.init(address: a, port: rest.hasPrefix(":") ? UInt16(rest.dropFirst()) : nil)
            return
        }
        if let a = IPAddress(text) {
            self.init(address: a, port: nil)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let a = IPAddress(String(text[..<colon])),
            let p = UInt16(text[text.index(after: colon)...])
        else { return nil }
        self.init(address: a, port: p)
    }
}
