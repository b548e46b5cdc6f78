/// Links later packets and replies of a NATed connection to the walk that opened it, and releases
/// walks in packet order.
///
/// The nat table runs only for a connection's first packet; later packets are translated silently
/// by conntrack. Linking them to the first walk names the translation, and a reply seen de-NATed
/// fills in what the first walk could not see (MASQUERADE's address) with evidence `reply`.
/// A walk whose NAT result is still unknown is held (up to `holdEvents` events) for that reply.
///
/// Up to `maxConnections` connections are remembered, so their storage is kept small: packed keys,
/// a ring of them in registration order, and per opener only the NAT types linking adopts.
struct ReplyLinker {
    /// A connection tuple, packed into 40 bytes (the fields as plain optionals would take 56).
    struct FlowKey: Hashable {
        private var srcHigh: UInt64
        private var srcLow: UInt64
        private var dstHigh: UInt64
        private var dstLow: UInt64
        private var sportValue: UInt16
        private var dportValue: UInt16
        let proto: UInt8
        /// 1: src is IPv6, 2: dst is IPv6, 4: sport present, 8: dport present.
        private var flags: UInt8

        init(proto: UInt8, src: IPAddress, sport: UInt16?, dst: IPAddress, dport: UInt16?) {
            self.proto = proto
            srcHigh = 0
            srcLow = 0
            dstHigh = 0
            dstLow = 0
            sportValue = 0
            dportValue = 0
            flags = 0
            self.src = src
            self.dst = dst
            self.sport = sport
            self.dport = dport
        }

        var src: IPAddress {
            get { FlowKey.address(srcHigh, srcLow, v6: flags & 1 != 0) }
            set {
                srcHigh = newValue.high
                srcLow = newValue.low
                flags = newValue.isV6 ? flags | 1 : flags & ~1
            }
        }

        var dst: IPAddress {
            get { FlowKey.address(dstHigh, dstLow, v6: flags & 2 != 0) }
            set {
                dstHigh = newValue.high
                dstLow = newValue.low
                flags = newValue.isV6 ? flags | 2 : flags & ~2
            }
        }

        var sport: UInt16? {
            get { flags & 4 != 0 ? sportValue : nil }
            set {
                sportValue = newValue ?? 0
                flags = newValue != nil ? flags | 4 : flags & ~4
            }
        }

        var dport: UInt16? {
            get { flags & 8 != 0 ? dportValue : nil }
            set {
                dportValue = newValue ?? 0
                flags = newValue != nil ? flags | 8 : flags & ~8
            }
        }

        /// Five words instead of eight fields.
        func hash(into hasher: inout Hasher) {
            hasher.combine(srcHigh)
            hasher.combine(srcLow)
            hasher.combine(dstHigh)
            hasher.combine(dstLow)
            hasher.combine(UInt64(sportValue) << 32 | UInt64(dportValue) << 16 | UInt64(proto) << 8 | UInt64(flags))
        }

        /// What the linker's tables hash with: multiply-mixes instead of SipHash (see `FastHash`).
        func _rawHashValue(seed: Int) -> Int {
            let a = FastHash.mix(srcHigh, srcLow, seed: seed)
            let b = FastHash.mix(dstHigh ^ UInt64(bitPattern: Int64(a)), dstLow, seed: 0)
            return FastHash.mix(
                UInt64(bitPattern: Int64(b)),
                UInt64(sportValue) << 32 | UInt64(dportValue) << 16 | UInt64(proto) << 8 | UInt64(flags), seed: 0)
        }

        /// The tuple seen from the other end. Its words trade places directly: through `init` and the
        /// fields' accessors, each address was made and taken apart again, about 47 instructions a key
        /// (callgrind, scripts/icount.sh on bench-out/t10.log). An IPv4 side's `high` is 0, as `IPAddress` keeps it.
        var reversed: FlowKey {
            var r = self
            (r.srcHigh, r.srcLow, r.dstHigh, r.dstLow) = (dstHigh, dstLow, srcHigh, srcLow)
            (r.sportValue, r.dportValue) = (dportValue, sportValue)
            // The family bits (1, 2) and the port bits (4, 8) trade places.
            r.flags = (flags & 0b0101) << 1 | (flags & 0b1010) >> 1
            return r
        }

        /// The key as `ConnectionTable` stores it.
        @inline(__always) var words: FlowWords {
            FlowWords(
                srcHigh, srcLow, dstHigh, dstLow,
                UInt64(sportValue) << 32 | UInt64(dportValue) << 16 | UInt64(proto) << 8 | UInt64(flags))
        }

        private static func address(_ high: UInt64, _ low: UInt64, v6: Bool) -> IPAddress {
            v6 ? IPAddress(v6: high, low) : IPAddress(v4: UInt32(truncatingIfNeeded: low))
        }
    }

    /// A `FlowKey` as five plain words, the form `ConnectionTable` stores.
    struct FlowWords {
        let w0: UInt64, w1: UInt64, w2: UInt64, w3: UInt64, w4: UInt64

        @inline(__always) init(_ w0: UInt64, _ w1: UInt64, _ w2: UInt64, _ w3: UInt64, _ w4: UInt64) {
            (self.w0, self.w1, self.w2, self.w3, self.w4) = (w0, w1, w2, w3, w4)
        }

        /// Each word times its own odd constant, then one mix that brings the high bits down to the
        /// low bits the table masks with: the five words through three chained `FastHash.mix`es were
        /// about 35 instructions a hash, and a walk hashes up to six tuples.
        @inline(__always) var hashWord: Int {
            var h =
                w0 &* 0x9E37_79B9_7F4A_7C15 ^ w1 &* 0xC2B2_AE3D_27D4_EB4F ^ w2 &* 0x1656_67B1_9E37_79F9
                ^ w3 &* 0xBF58_476D_1CE4_E5B9 ^ w4 &* 0x94D0_49BB_1331_11EB
            h ^= h >> 32
            h = h &* 0xD6E8_FEB8_6659_FD93
            return Int(bitPattern: UInt(h ^ (h >> 29)))
        }

        // The word that differs most between connections (ports, protocol) first.
        @inline(__always) static func == (l: FlowWords, r: FlowWords) -> Bool {
            l.w4 == r.w4 && l.w0 == r.w0 && l.w1 == r.w1 && l.w2 == r.w2 && l.w3 == r.w3
        }
    }

    /// What a released opener still lends later packets and replies: the type of its first
    /// original-direction translation of each field.
    struct OpenerTypes {
        var src: NatType?
        var dst: NatType?
        /// For a DNAT or REDIRECT: the destination before it, which conntrack puts back as the source
        /// of every reply (at POSTROUTING, often after the reply's last traced step).
        var dstBefore: Endpoint?

        init(_ nat: [NatRewrite]) {
            // By index: `for rewrite in nat` copies each rewrite, retaining its five strings.
            for i in nat.indices where nat[i].direction == "original" {
                if nat[i].field == "src" && src == nil { src = nat[i].type }
                if nat[i].field == "dst" && dst == nil {
                    dst = nat[i].type
                    if nat[i].type == .dnat || nat[i].type == .redirect { dstBefore = nat[i].beforeEndpoint }
                }
            }
        }
    }

    var holdEvents = 4096
    /// Walks waiting at most, behind the first held one: past this the first is released unfinished.
    /// They come out in packet order, so every walk closed while one waits is held too, and on input
    /// where most walks name a NAT with an unknown result that was most of memory (scripts/bench-replay.sh,
    /// mutated lines); a tidy log holds a few hundred.
    var maxHeld = 4096
    var maxConnections: Int {
        get { connections.capacity }
        set { connections.capacity = newValue }
    }
    /// Closed walks waiting for release, by packet number from `nextRelease` on (see `HeldWalks`).
    private var closed = HeldWalks()
    /// Seconds a walk waits for its reply when events carry times (live tracing).
    var holdSeconds = 2.0
    private var nextRelease = 1
    /// While nothing was added, `flush` has nothing to do before this event index (the head walk is
    /// missing or held); it then skips the lookup of the head on every event.
    private var idleUntil: Int?
    /// First walks of NATed connections by their tuple before NAT, and after NAT when fully known.
    private var connections = RememberedConnections()
    /// Each remembered opener, so its translations can be named after it has been released (while
    /// it is held, its own NAT list in `closed` is used and updated).
    private var openers = PacketTable<OpenerTypes>()
    /// The first walk seen of each conntrack entry, by the id nft's `conntrack:` records print, and
    /// the ids in registration order (a ring of `maxConnections`, as `RememberedConnections` keeps tuples).
    private var byConntrackID: [UInt32: Int] = [:]
    private var conntrackOrder: [UInt32] = []
    private var conntrackHead = 0
    private let release: (consuming PacketWalk) -> Void

    init(release: @escaping (consuming PacketWalk) -> Void) {
        self.release = release
    }

    /// Takes a closed walk (moved in, not copied: a copy retains every array of it); `lastHeaderIndex`
    /// is the index of its last step with a header.
    mutating func add(_ walk: consuming PacketWalk, lastHeaderIndex: Int?, eventIndex: Int) {
        let last = lastHeaderIndex.flatMap {
            walk.steps[$0].event.hasHeader ? ReplyLinker.key(walk.steps[$0].event.headerValue) : nil
        }
        // The steps stay as they are while linking: the first header's key is read once.
        let first = ReplyLinker.firstKey(walk)
        // Each lookup of `link` begins at a tag that has left the cache since: loaded together, their
        // misses overlap instead of following each other (perf on the 1,000,000-line benchmark file:
        // a third of `add`'s samples on the first read of a tag).
        // The reversed tuples are made here once, for the prefetches and for `link`.
        let firstReversed = first?.reversed
        let lastReversed = last?.reversed
        if let first, let firstReversed {
            connections.prefetch(first.words, translated: false)
            connections.prefetch(firstReversed.words, translated: true)
            if let lastReversed {
                connections.prefetch(lastReversed.words, translated: false)
                if lastReversed != firstReversed { connections.prefetch(lastReversed.words, translated: true) }
            }
        }
        if !linkByConntrack(&walk, first: first)
            && !link(&walk, first: first, firstReversed: firstReversed, lastReversed: lastReversed)
        {
            register(walk, first: first)
        }
        // By index: `steps.last` copies the step.
        let closedTime = walk.steps.isEmpty ? nil : walk.steps[walk.steps.count - 1].event.time
        let offset = walk.packet - nextRelease
        closed.insert(consume walk, closedAt: eventIndex, closedTime: closedTime, at: offset)
        idleUntil = nil
    }

    /// Starts loading the slot the closing walk `packet` will be held in (see `HeldWalks.prefetch`).
    @inline(__always) func prefetchSlot(packet: Int) { closed.prefetch(packet - nextRelease) }

    /// Releases what is ready; `force` releases everything (end of input). `now` (live tracing) also
    /// releases a held walk once it waited `holdSeconds`.
    ///
    /// Called after every event; most calls have nothing to do, and are answered here, inlined into the
    /// caller (scripts/bench-replay.sh).
    @inline(__always)
    mutating func flush(eventIndex: Int, now: Double? = nil, force: Bool = false) {
        if !force, now == nil, let until = idleUntil, eventIndex < until { return }
        releaseReady(eventIndex: eventIndex, now: now, force: force)
    }

    private mutating func releaseReady(eventIndex: Int, now: Double?, force: Bool) {
        idleUntil = nil
        // The head is read in place and then moved out: copying a walk retains all its arrays.
        while closed.hasFirst {
            let head = closed.first
            var waited = eventIndex - head.closedAt >= holdEvents
            if let now, let t = head.closedTime, now - t >= holdSeconds { waited = true }
            if head.pending && !force && !waited && closed.count <= maxHeld {
                idleUntil = head.closedAt + holdEvents
                return
            }
            // The next head's slot, while this walk is printed.
            closed.prefetch(1)
            release(closed.removeFirst())
            nextRelease += 1
        }
        if !force { idleUntil = .max }
        if force {
            // What is left waits behind a walk still open (none, at the end of input): in packet order.
            while !closed.isEmpty {
                if let held = closed.popSlot() { release(held) }
                nextRelease += 1
            }
        }
    }

    /// Whether a walk waits for a reply to learn a NAT result: a translation of its own whose result
    /// is not known.
    static func isPending(_ walk: borrowing PacketWalk) -> Bool {
        // By index: the closure of `contains(where:)` is given a copy of each rewrite.
        walk.nat.indices.contains { walk.nat[$0].afterEndpoint == nil && walk.nat[$0].direction == "original" }
    }

    private mutating func register(_ walk: PacketWalk, first: FlowKey?) {
        // By index: the closure of `contains(where:)` is given a copy of each rewrite.
        let opened = walk.nat.indices.contains {
            walk.nat[$0].direction == "original" && !ReplyLinker.isConntrack(walk.nat[$0].at)
        }
        guard opened, let key = first else { return }
        openers[PacketNumber(walk.packet)] = OpenerTypes(walk.nat)
        remember(key, walk.packet, translated: false)
        // Without a known result the tuple after NAT is the one before: nothing more to remember (most
        // openers, until their reply comes).
        guard
            walk.nat.indices.contains(where: {
                walk.nat[$0].afterEndpoint != nil && walk.nat[$0].direction == "original"
            })
        else { return }
        let all = ReplyLinker.translated(key, walk.nat)
        let dst = ReplyLinker.translated(key, walk.nat, only: "dst")
        if let all { remember(all, walk.packet, translated: true) }
        if let dst, dst != all { remember(dst, walk.packet, translated: true) }
    }

    private mutating func remember(_ key: FlowKey, _ packet: Int, translated: Bool) {
        // Full: the oldest tuple was forgotten, and with it what its opener lends.
        if let forgotten = connections.remember(key.words, packet, translated: translated) {
            openers[PacketNumber(forgotten)] = nil
        }
    }

    /// Ties a walk to the first walk of its conntrack entry when nft printed the entry's id (a reply
    /// when its direction is `reply`); remembers the id of a walk that opens one. Returns whether it
    /// linked.
    private mutating func linkByConntrack(_ walk: inout PacketWalk, first: FlowKey?) -> Bool {
        guard let ct = ReplyLinker.conntrackWithID(walk), let id = ct.id else { return false }
        // `ct state new` opens a connection, also when the kernel recycled an id seen before.
        guard let opener = byConntrackID[id], opener != walk.packet, !ct.isNew else {
            if ct.isNew, let later = byConntrackID[id], later > walk.packet { adoptLater(later, opener: walk.packet) }
            if ct.isNew || byConntrackID[id] == nil { rememberConntrack(id, walk.packet) }
            return false
        }
        let reply = ct.direction == "reply"
        walk.connection = opener
        if reply { walk.replyTo = opener }
        adoptTypes(&walk, from: opener, reply: reply)
        if reply, let first {
            ReplyLinker.addReverseDestinationNat(&walk, types: openers[PacketNumber(opener)], from: first)
        }
        return true
    }

    /// A later packet of the connection closed before its first one (a drop closes a walk at once,
    /// an accepted one waits for its window): still held, it is tied to the opener now.
    private mutating func adoptLater(_ later: Int, opener: Int) {
        let slot = later - nextRelease
        guard closed.contains(slot), closed.read(slot, { $0.connection == nil }),
            let ct = closed.read(slot, { ReplyLinker.conntrackWithID($0) })
        else { return }
        closed.modify(slot) { later in
            later.connection = opener
            if ct.direction == "reply" { later.replyTo = opener }
        }
    }

    /// The conntrack record of the walk's first step that names its entry's id (nft ≥ 1.1), read once.
    private static func conntrackWithID(_ walk: borrowing PacketWalk) -> ConntrackRecord? {
        walk.steps.withUnsafeBufferPointer { steps in
            for i in steps.indices {
                // Steps read in place, and the record parsed only when an item may be one (`ct …`): a
                // legacy TRACE line keeps its TCP options there.
                let step = steps.address(i)
                // Whether an item may be one is kept beside the items (`RareHeaderFields.mayHoldConntrack`).
                guard step.pointee.event.hasHeader, step.pointee.event.headerValue.rare.mayHoldConntrack
                else { continue }
                if let ct = step.pointee.event.headerValue.conntrack, ct.id != nil { return ct }
            }
            return nil
        }
    }

    private mutating func rememberConntrack(_ id: UInt32, _ packet: Int) {
        byConntrackID[id] = packet
        if conntrackOrder.count < maxConnections {
            conntrackOrder.append(id)
            return
        }
        let old = conntrackOrder[conntrackHead]
        conntrackOrder[conntrackHead] = id
        conntrackHead = (conntrackHead + 1) % conntrackOrder.count
        if byConntrackID[old] != nil && old != id { byConntrackID[old] = nil }
    }

    /// Returns whether the walk belongs to a known connection (and so opens none).
    /// (`firstReversed` and `lastReversed`: the first and last header's tuples from the other end.)
    private mutating func link(
        _ walk: inout PacketWalk, first: FlowKey?, firstReversed: FlowKey?, lastReversed: FlowKey?
    ) -> Bool {
        guard let first, let firstReversed else { return false }
        if connections.hasBefore, let opener = connections.opener(first.words, translated: false),
            opener != walk.packet
        {
            walk.connection = opener
            adoptTypes(&walk, from: opener, reply: false)
            return true
        }
        // A reply de-NATed in view matches the opener's tuple; one whose de-NAT is out of view matches
        // the opener's tuple after NAT (all of it, or only its destination side when MASQUERADE's
        // address is not known yet).
        // (An empty table is not hashed into: a log without NAT keeps them empty.)
        var opener: Int?
        if connections.hasBefore, let lastReversed {
            opener = connections.opener(lastReversed.words, translated: false)
        }
        if opener == nil, connections.hasAfter {
            opener = connections.opener(firstReversed.words, translated: true)
            // Most walks keep their tuple to the end: the same key again would be a second cache miss.
            if opener == nil, let lastReversed, lastReversed != firstReversed {
                opener = connections.opener(lastReversed.words, translated: true)
            }
        }
        guard let opener, opener != walk.packet else { return false }
        walk.connection = opener
        walk.replyTo = opener
        adoptTypes(&walk, from: opener, reply: true)
        ReplyLinker.addReverseDestinationNat(&walk, types: openers[PacketNumber(opener)], from: first)
        return true
    }

    /// A reply of a DNAT'd (or REDIRECTed) connection whose de-NAT was not in view: conntrack rewrites
    /// its source back to the address the opener was sent to, at POSTROUTING (evidence `conntrack`).
    static func addReverseDestinationNat(_ walk: inout PacketWalk, types: OpenerTypes?, from first: FlowKey) {
        guard let types, let type = types.dst, let original = types.dstBefore,
            !walk.nat.contains(where: { $0.field == "src" })
        else { return }
        let source = Endpoint(address: first.src, port: first.sport)
        guard source != original else { return }
        var rewrite = NatRewrite(
            type: type, field: "src", before: source, after: original, at: "conntrack:POSTROUTING",
            evidence: .conntrack)
        rewrite.direction = "reply"
        walk.nat.append(rewrite)
    }

    /// Names conntrack's silent translations after the opening walk's, and lets a reply fill in its unknowns.
    private mutating func adoptTypes(_ walk: inout PacketWalk, from opener: Int, reply: Bool) {
        guard let types = openers[PacketNumber(opener)] else { return }
        let slot = opener - nextRelease
        guard closed.contains(slot) else {
            // Released: only the types are left to lend.
            for i in walk.nat.indices where ReplyLinker.isConntrack(walk.nat[i].at) {
                let field = walk.nat[i].field
                let openerField = reply ? (field == "dst" ? "src" : "dst") : field
                guard let type = openerField == "src" ? types.src : (openerField == "dst" ? types.dst : nil)
                else { continue }
                walk.nat[i].type = type
                if reply { walk.nat[i].direction = "reply" }
            }
            return
        }
        // The opener's translations are edited where it is held.
        closed.modify(slot) { held in
            for i in walk.nat.indices where ReplyLinker.isConntrack(walk.nat[i].at) {
                let field = walk.nat[i].field
                let openerField = reply ? (field == "dst" ? "src" : "dst") : field
                guard
                    let k = held.nat.firstIndex(where: {
                        $0.field == openerField && $0.direction == "original"
                    })
                else { continue }
                walk.nat[i].type = held.nat[k].type
                if reply {
                    walk.nat[i].direction = "reply"
                    if held.nat[k].evidence < .reply || held.nat[k].afterEndpoint == nil {
                        held.nat[k].afterEndpoint = walk.nat[i].beforeEndpoint
                        held.nat[k].evidence = .reply
                    }
                }
            }
        }
    }

    /// Whether a rewrite's place is conntrack's (`conntrack:PREROUTING`): `hasPrefix`, asked only of a
    /// place whose first byte could start it (every NAT walk asks; a nat table's place never starts so).
    @inline(__always) static func isConntrack(_ at: String) -> Bool {
        at.utf8.first == UInt8(ascii: "c") && at.hasPrefix("conntrack")
    }

    /// The key of `walk.firstHeader`, read in place.
    static func firstKey(_ walk: borrowing PacketWalk) -> FlowKey? {
        walk.steps.withUnsafeBufferPointer { steps in
            // `PacketWalk.firstHeaderIndex`, with steps read by pointer: its closures copy each step.
            var any: Int?
            for i in steps.indices where steps.address(i).pointee.event.hasHeader {
                let h = steps.address(i)
                if h.pointee.event.headerValue.ipID != nil || h.pointee.event.headerValue.length != nil
                    || h.pointee.event.headerValue.tcpSeq != nil
                {
                    return key(h.pointee.event.headerValue)
                }
                if any == nil { any = i }
            }
            return any.flatMap { key(steps.address($0).pointee.event.headerValue) }
        }
    }

    static func key(_ h: borrowing PacketHeader) -> FlowKey? {
        guard let proto = h.proto, let src = h.src, let dst = h.dst else { return nil }
        return FlowKey(proto: proto, src: src, sport: h.natSourcePort, dst: dst, dport: h.natDestinationPort)
    }

    /// The tuple after every translation of the walk (or of one field), when each one's result is known.
    static func translated(_ key: FlowKey, _ nat: [NatRewrite], only field: String? = nil) -> FlowKey? {
        var k = key
        for i in nat.indices where nat[i].direction == "original" && (field == nil || nat[i].field == field) {
            guard let endpoint = nat[i].afterEndpoint else { return nil }
            if nat[i].field == "src" {
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
            guard let close = text.firstIndex(of: "]"),
                let a = IPAddress(String(text[text.index(after: text.startIndex)..<close]))
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
