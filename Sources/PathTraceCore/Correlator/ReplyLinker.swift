/// Links replies that conntrack de-NATed to their original walks, and releases walks in packet order.
///
/// A walk whose NAT result is still unknown is held (up to `holdEvents` events) so that a reply seen
/// later can fill it in with evidence `reply`; everything is bounded.
struct ReplyLinker {
    struct FlowKey: Hashable {
        var proto: UInt8
        var src: IPAddress
        var sport: UInt16?
        var dst: IPAddress
        var dport: UInt16?
    }

    var holdEvents = 4096
    var maxOriginals = 65536
    private var closed: [Int: (walk: PacketWalk, closedAt: Int)] = [:]
    private var nextRelease = 1
    private var originals: [FlowKey: Int] = [:]
    private var originalOrder = Deque<FlowKey>()
    private let release: (PacketWalk) -> Void

    init(release: @escaping (PacketWalk) -> Void) {
        self.release = release
    }

    mutating func add(_ walk: PacketWalk, lastHeader: PacketHeader?, eventIndex: Int) {
        var walk = walk
        linkReply(&walk, lastHeader: lastHeader)
        registerOriginal(walk)
        closed[walk.packet] = (walk, eventIndex)
    }

    /// Releases what is ready; `force` releases everything (end of input).
    mutating func flush(eventIndex: Int, force: Bool = false) {
        while let entry = closed[nextRelease] {
            let pending = entry.walk.nat.contains { $0.after == nil && $0.direction == "original" }
            if pending && !force && eventIndex - entry.closedAt < holdEvents { return }
            closed[nextRelease] = nil
            release(entry.walk)
            nextRelease += 1
        }
        if force && !closed.isEmpty {
            for packet in closed.keys.sorted() {
                if let entry = closed.removeValue(forKey: packet) { release(entry.walk) }
            }
        }
    }

    /// Skips packet numbers that will never arrive (none today; kept so a gap can never stall output).
    var waiting: Int { closed.count }

    private mutating func registerOriginal(_ walk: PacketWalk) {
        guard walk.replyTo == nil, walk.nat.contains(where: { $0.direction == "original" && !$0.at.hasPrefix("conntrack") }),
            let h = walk.firstHeader, let key = ReplyLinker.key(h)
        else { return }
        if originals[key] == nil { originalOrder.append(key) }
        originals[key] = walk.packet
        while originalOrder.count > maxOriginals, let old = originalOrder.removeFirst() { originals[old] = nil }
    }

    private mutating func linkReply(_ walk: inout PacketWalk, lastHeader: PacketHeader?) {
        let denat = walk.nat.indices.filter { walk.nat[$0].at.hasPrefix("conntrack") }
        guard !denat.isEmpty, let h = lastHeader, let proto = h.proto, let src = h.src, let dst = h.dst else { return }
        let reversed = FlowKey(proto: proto, src: dst, sport: h.natDestinationPort, dst: src, dport: h.natSourcePort)
        guard let original = originals[reversed], var entry = closed[original] else { return }
        walk.replyTo = original
        for i in denat {
            walk.nat[i].direction = "reply"
            let reverseField = walk.nat[i].field == "dst" ? "src" : "dst"
            if let k = entry.walk.nat.firstIndex(where: { $0.field == reverseField && $0.direction == "original" }) {
                walk.nat[i].type = entry.walk.nat[k].type
                if entry.walk.nat[k].evidence < .reply {
                    entry.walk.nat[k].after = walk.nat[i].before
                    entry.walk.nat[k].evidence = .reply
                }
            }
        }
        closed[original] = entry
    }

    static func key(_ h: PacketHeader) -> FlowKey? {
        guard let proto = h.proto, let src = h.src, let dst = h.dst else { return nil }
        return FlowKey(proto: proto, src: src, sport: h.natSourcePort, dst: dst, dport: h.natDestinationPort)
    }
}
