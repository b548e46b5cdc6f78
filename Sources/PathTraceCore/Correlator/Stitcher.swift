/// Joins a stream of trace events into per-packet walks, with memory bounded by its window.
///
/// A kernel-log line has no packet id and the nft trace id changes between hooks, so an event joins
/// the open walk whose last header it equals, allowing only the changes the steps in between explain:
/// TTL −1 when forwarded, addresses and ports rewritten once conntrack's NAT point was passed.
struct Stitcher {
    /// Why a walk was closed; the analyzer uses it to tell a drop from a cut-off capture.
    enum CloseReason {
        /// Nothing can follow (last table of the last hook ran, or a drop).
        case complete
        /// No event joined it within the window.
        case expired
        /// Too many walks were open at once.
        case evicted
        /// The input ended.
        case endOfInput
    }

    struct Limits {
        /// Events after which an idle walk is closed.
        var windowEvents = 4096
        /// Seconds of trace time after which an idle walk is closed (when events carry times).
        var windowSeconds = 2.0
        /// Walks open at once before the oldest is closed.
        var maxOpen = 16384
    }

    let limits: Limits
    private var nextPacket = 1
    private var eventIndex = 0
    private var open: [Int: OpenWalk] = [:]
    /// Open walks by invariant key: the first of a chain linked through `OpenWalk.nextWithKey`.
    private var byKey: [InvariantKey: OpenWalk] = [:]
    private var byTraceID: [UInt32: OpenWalk] = [:]
    /// Activity queue for expiry: (walk, event index when touched); stale entries are skipped.
    private var activity: Deque<(OpenWalk, Int)> = Deque()
    /// Walks closed during the current call, handed to the caller when it returns.
    private var closed: [Closed] = []

    /// A walk the stitcher closed, and why.
    struct Closed {
        let walk: OpenWalk
        let reason: CloseReason
    }

    /// Declared positions of nft base chains (from `--ruleset`), keyed by "table chain family".
    let basePosition: (TraceEvent) -> HookPosition?

    let visibility: Visibility
    let isNat: (TraceEvent) -> Bool

    init(
        limits: Limits = Limits(), visibility: Visibility = Visibility(),
        isNat: @escaping (TraceEvent) -> Bool = { _ in false },
        basePosition: @escaping (TraceEvent) -> HookPosition? = { _ in nil }
    ) {
        self.limits = limits
        self.visibility = visibility
        self.isNat = isNat
        self.basePosition = basePosition
    }

    var openCount: Int { open.count }

    /// Adds one event; returns the walks it closed (idle ones the event's time expired, and the walk
    /// the event completed), oldest first.
    mutating func add(_ event: TraceEvent) -> [Closed] {
        addEvent(event)
        return takeClosed()
    }

    /// Hands over the walks closed since the last call (the list's storage goes with them).
    private mutating func takeClosed() -> [Closed] {
        if closed.isEmpty { return [] }
        var out: [Closed] = []
        swap(&out, &closed)
        return out
    }

    private mutating func addEvent(_ event: TraceEvent) {
        eventIndex += 1
        expireIdle(now: event.time)
        if event.kind == .log {
            let walk = start(event)
            finish(walk, .complete)
            return
        }
        // The best join among the candidates: the walk with the trace id, then those with the
        // event's invariant key (each once). The choice does not depend on their order.
        var best: OpenWalk?
        var bestPosition: HookPosition?
        var bestCost = Int.max
        var ties = 0
        let identity = (event.hasHeader ? HeaderIdentity(event.headerValue) : nil)
        func consider(_ walk: OpenWalk) {
            guard let (cost, position) = joinCost(walk, event, identity) else { return }
            if cost < bestCost || (cost == bestCost && walk.packet < (best?.packet ?? .max)) {
                if cost < bestCost { ties = 0 }
                best = walk
                bestPosition = position
                bestCost = cost
            }
            if cost == bestCost { ties += 1 }
        }
        var byID: OpenWalk?
        if let id = event.traceID, let walk = byTraceID[id] {
            byID = walk
            consider(walk)
        }
        if let key = InvariantKey(identity) {
            var next = byKey[key]
            while let walk = next {
                if walk !== byID { consider(walk) }
                next = walk.nextWithKey
            }
        }
        guard let walk = best else {
            let walk = start(event)
            if walk.complete { finish(walk, .complete) }
            return
        }
        if ties > 1 {
            walk.confidence = min(walk.confidence, 1 / Double(ties))
            walk.notes.append(
                "step \(walk.steps.count + 1) (\(event.source)) joined by header identity among \(ties) equal walks")
        }
        append(event, identity, to: walk, position: bestPosition)
        if walk.complete || walk.dropped { finish(walk, .complete) }
    }

    /// Closes every open walk, oldest first. A walk idle long before the end was not cut off by it.
    mutating func finishAll(lastTime: Double?) -> [Closed] {
        for packet in open.keys.sorted() {
            guard let walk = open[packet] else { continue }
            var idle = eventIndex - walk.lastEventIndex > 32
            if let now = lastTime, let t = walk.lastTime, now - t > 0.5 { idle = true }
            finish(walk, idle ? .expired : .endOfInput)
        }
        return takeClosed()
    }

    // MARK: - Joining

    /// Where an event ran: its own hook, or (user chains) the hook of the walk that jumped there.
    func position(of event: TraceEvent, in walk: OpenWalk?) -> HookPosition? {
        if event.origin != .kernelTrace, let declared = basePosition(event) { return declared }
        var hook = event.hook
        // nft chains have free names, but most say their hook (firewall4's `mangle_prerouting`, `dstnat`).
        if hook == nil, event.traceID != nil { hook = Stitcher.hookFromName(event.chain) }
        if hook == nil, let walk, !walk.steps.isEmpty, walk.last.table == event.table {
            hook = walk.lastPosition?.hook
        }
        if hook == nil {
            hook = Stitcher.hookFromInterfaces(
                event, after: walk?.lastPosition?.hook, keepsHook: event.traceID != nil)
        }
        guard let hook else { return nil }
        return HookPosition(hook: hook, priority: Stitcher.priority(of: event, at: hook))
    }

    static func priority(of event: TraceEvent, at hook: Hook) -> Int {
        if let p = Netfilter.priority(table: event.table, hook: hook) { return p }
        // pathtrace's own live table (TraceRulePlan.nftPriority: raw - 1).
        if event.table.hasPrefix("pathtrace_") { return -301 }
        // nft tables have free names; guess from the usual naming of chains and tables.
        let name = (event.table + " " + event.chain).lowercased()
        if name.contains("raw") { return -300 }
        if name.contains("mangle") { return -150 }
        if name.contains("nat") { return hook == .postrouting || hook == .input ? 100 : -100 }
        return 0
    }

    /// Whether an event's priority is a fact (an iptables table, pathtrace's table, a declared nft
    /// chain) rather than a guess from its name.
    func priorityKnown(_ event: TraceEvent) -> Bool {
        if event.origin == .kernelTrace || event.table.hasPrefix("pathtrace_") { return true }
        if ["raw", "mangle", "nat", "filter", "security"].contains(event.table) { return true }
        return basePosition(event) != nil
    }

    /// The hook a chain's name says, as a word of it: `mangle_prerouting`, `filter_INPUT`, `dstnat`.
    /// Scans the bytes in place: every event of a free-named nft chain asks.
    static func hookFromName(_ chain: String) -> Hook? {
        var chain = chain
        return chain.withUTF8 { bytes -> Hook? in
            var start = 0
            for end in 0...bytes.count {
                let isLetter = end < bytes.count && (bytes[end] | 0x20) >= 97 && (bytes[end] | 0x20) <= 122
                if isLetter { continue }
                if end > start, let hook = hookWord(UnsafeBufferPointer(rebasing: bytes[start..<end])) { return hook }
                start = end + 1
            }
            return nil
        }
    }

    private static let hookWords: [(word: StaticString, hook: Hook)] = [
        ("prerouting", .prerouting), ("dstnat", .prerouting), ("input", .input), ("forward", .forward),
        ("output", .output), ("postrouting", .postrouting), ("srcnat", .postrouting),
    ]

    /// The hook a word names, compared without case.
    private static func hookWord(_ word: UnsafeBufferPointer<UInt8>) -> Hook? {
        for (name, hook) in hookWords where name.utf8CodeUnitCount == word.count {
            var same = true
            for i in 0..<word.count where (word[i] | 0x20) != name.utf8Start[i] {
                same = false
                break
            }
            if same { return hook }
        }
        return nil
    }

    /// The hook the interfaces allow after `previous`. With `keepsHook` (a source that prints each base
    /// chain: several may run at one hook), a chain whose hook nothing tells stays at the previous one,
    /// so that without a ruleset base chains keep the order printed.
    static func hookFromInterfaces(_ event: TraceEvent, after previous: Hook?, keepsHook: Bool = false) -> Hook? {
        let hasIn = !(event.inIface ?? "").isEmpty
        let hasOut = !(event.outIface ?? "").isEmpty
        switch (hasIn, hasOut) {
        // Forwarded packets keep their input device at POSTROUTING (nft trace, kernel 6.18 nf_log).
        case (true, true):
            if keepsHook && previous == .forward { return .forward }
            return previous == .forward || previous == .postrouting ? .postrouting : .forward
        case (true, false):
            if keepsHook, let previous, previous == .prerouting || previous == .input { return previous }
            return previous == .prerouting ? .input : .prerouting
        case (false, true): return previous == nil ? .output : .postrouting
        default: return nil
        }
    }

    /// Lower is better; nil when the event cannot be this walk's next step. `identity` is the
    /// event's header identity (nil when it has no header).
    func joinCost(_ walk: OpenWalk, _ event: TraceEvent, _ identity: HeaderIdentity?) -> (Int, HookPosition)? {
        guard !walk.dropped, !walk.complete, !walk.steps.isEmpty, let lastPos = walk.lastPosition,
            let pos = position(of: event, in: walk)
        else { return nil }
        var cost = 0
        if pos.hook == lastPos.hook {
            // Only priorities that are known (iptables tables, declared nft chains) may refuse an order.
            if pos.priority < lastPos.priority && event.table != walk.last.table
                && priorityKnown(event) && priorityKnown(walk.last)
            {
                return nil
            }
            let unit = Stitcher.invocation(event, in: walk)
            if walk.finishedTables.contains(unit) { return nil }
            if unit == walk.currentUnit && (walk.last.kind == .policy || walk.last.verdict == .accept) { return nil }
            if event.table == walk.last.table && event.chain == walk.last.chain {
                if case .number(let n) = event.rule, case .number(let m) = walk.last.rule, n <= m { return nil }
            }
        } else {
            guard Netfilter.isLater(pos.hook, than: lastPos.hook) else { return nil }
        }
        let sameHookID = event.traceID != nil && event.traceID == walk.last.traceID && pos.hook == lastPos.hook
        if !sameHookID { cost += 1 }
        guard let h = identity else { return sameHookID ? (cost, pos) : (cost + 4, pos) }
        guard let w = walk.lastIdentity else { return (cost + 2, pos) }
        if !Stitcher.sameInvariants(w, h) { return nil }
        if w.src != h.src || w.natSourcePort != h.natSourcePort {
            guard lastPos.crossesSrcNat(to: pos) else { return nil }
        }
        if w.dst != h.dst || w.natDestinationPort != h.natDestinationPort {
            guard lastPos.crossesDstNat(to: pos) else { return nil }
        }
        if let a = w.ttl, let b = h.ttl, a != b {
            let forwarded =
                lastPos.hook == .prerouting && (pos.hook == .forward || pos.hook == .postrouting) && a == b &+ 1
            guard forwarded else { return nil }
        }
        if pos.hook == lastPos.hook || (lastPos.hook == .prerouting && pos.hook != .postrouting) {
            if let a = walk.last.inIface, let b = event.inIface, !a.isEmpty, !b.isEmpty, a != b { return nil }
        }
        if pos.hook == lastPos.hook && pos.hook != .output {
            if let a = walk.last.outIface, let b = event.outIface, !a.isEmpty, !b.isEmpty, a != b { return nil }
        }
        return (cost, pos)
    }

    /// The unit that runs once per hook: an iptables table, or (nft) a table's base chain; a user
    /// chain belongs to the base chain that jumped to it.
    static func invocation(_ event: TraceEvent, in walk: OpenWalk?) -> String {
        if event.origin == .kernelTrace { return event.table }
        if event.hook != nil || event.startsChain { return event.table + ":" + event.chain }
        if let walk, !walk.steps.isEmpty, walk.last.table == event.table { return walk.currentUnit }
        return event.table + ":" + event.chain
    }

    static func sameInvariants(_ a: HeaderIdentity, _ b: HeaderIdentity) -> Bool {
        func eq<T: Equatable>(_ x: T?, _ y: T?) -> Bool { x == nil || y == nil || x == y }
        return eq(a.proto, b.proto) && eq(a.ipID, b.ipID) && eq(a.length, b.length) && eq(a.tcpSeq, b.tcpSeq)
            && eq(a.icmpType, b.icmpType) && eq(a.icmpSeq, b.icmpSeq) && eq(a.icmpCode, b.icmpCode)
    }

    // MARK: - Walk bookkeeping

    private mutating func start(_ event: TraceEvent) -> OpenWalk {
        let walk = OpenWalk(packet: nextPacket)
        nextPacket += 1
        open[walk.packet] = walk
        if open.count > limits.maxOpen, let oldest = open.keys.min(), let w = open[oldest] {
            finish(w, .evicted)
        }
        append(
            event, (event.hasHeader ? HeaderIdentity(event.headerValue) : nil), to: walk,
            position: position(of: event, in: nil))
        if let hook = walk.lastPosition?.hook, !Netfilter.isEntry(hook), event.kind != .log {
            walk.notes.append("first step is at \(hook.rawValue), not where a packet enters: the start is missing")
        }
        return walk
    }

    private mutating func append(
        _ event: TraceEvent, _ identity: HeaderIdentity?, to walk: OpenWalk, position: HookPosition?
    ) {
        let index = walk.steps.count
        if let position, let lastPos = walk.lastPosition, position.hook != lastPos.hook {
            walk.finishedTables.removeAll(keepingCapacity: true)
        }
        if !walk.steps.isEmpty, position?.hook == walk.lastPosition?.hook {
            let lastUnit = walk.currentUnit
            let ended =
                lastUnit != Stitcher.invocation(event, in: walk) || walk.last.kind == .policy
                || walk.last.verdict == .accept
            if ended && !walk.finishedTables.contains(lastUnit) { walk.finishedTables.append(lastUnit) }
        }
        if let h = identity, let w = walk.lastIdentity, let from = walk.lastPosition, let to = position {
            if w.src != h.src || w.natSourcePort != h.natSourcePort, let b = w.sourceEndpoint, let a = h.sourceEndpoint
            {
                walk.changes.append(
                    HeaderChange(field: "src", before: b, after: a, stepIndex: index, from: from, to: to))
            }
            if w.dst != h.dst || w.natDestinationPort != h.natDestinationPort, let b = w.destinationEndpoint,
                let a = h.destinationEndpoint
            {
                walk.changes.append(
                    HeaderChange(field: "dst", before: b, after: a, stepIndex: index, from: from, to: to))
            }
        }
        walk.currentUnit = Stitcher.invocation(event, in: walk)
        if let hook = position?.hook, event.kind != .log {
            // Legacy TRACE (kernel log, or nfnetlink_log) carries no trace id; nft sources always do.
            let legacy = event.origin == .kernelTrace || (event.origin == .netlink && event.traceID == nil)
            visibility.note(
                walk.currentUnit, at: hook, nat: event.table == "nat" || (event.kind == .rule && isNat(event)),
                legacyTable: legacy ? event.table : nil)
        }
        walk.steps.append(WalkStep(event: event, hook: position?.hook, verdict: event.verdict, verdictInferred: false))
        if let position { walk.lastPosition = position }
        if let identity {
            walk.lastIdentity = identity
            walk.lastHeaderIndex = index
            let key = InvariantKey(identity)
            if key != walk.invariantKey {
                if let old = walk.invariantKey { unindex(walk, key: old) }
                if let key {
                    walk.nextWithKey = byKey[key]
                    byKey[key] = walk
                }
                walk.invariantKey = key
            }
        }
        if let id = event.traceID { byTraceID[id] = walk }
        walk.lastEventIndex = eventIndex
        if let t = event.time { walk.lastTime = t }
        activity.append((walk, eventIndex))
        if event.verdict == .drop || (event.kind == .policy && event.verdict == .drop) { walk.dropped = true }
        if event.origin == .kernelTrace, event.kind == .policy, event.table == "nat", let hook = position?.hook,
            Netfilter.isFinal(hook)
        {
            // iptables' nat is the last table at INPUT and POSTROUTING: its policy ends the walk.
            walk.complete = true
        }
    }

    /// Takes `walk` out of the chain of walks with `key`.
    private mutating func unindex(_ walk: OpenWalk, key: InvariantKey) {
        defer { walk.nextWithKey = nil }
        guard let head = byKey[key] else { return }
        if head === walk {
            byKey[key] = walk.nextWithKey
            return
        }
        var previous = head
        while let next = previous.nextWithKey {
            if next === walk {
                previous.nextWithKey = walk.nextWithKey
                return
            }
            previous = next
        }
    }

    private mutating func finish(_ walk: OpenWalk, _ reason: CloseReason) {
        guard !walk.closed else { return }
        walk.closed = true
        open[walk.packet] = nil
        if let key = walk.invariantKey { unindex(walk, key: key) }
        if !byTraceID.isEmpty {
            for i in walk.steps.indices {
                if let id = walk.steps[i].event.traceID, byTraceID[id] === walk { byTraceID[id] = nil }
            }
        }
        closed.append(Closed(walk: walk, reason: reason))
    }

    /// Closes the walks idle past the window at time `now` (live tracing's clock, or an event's time).
    mutating func expire(now: Double?) -> [Closed] {
        expireIdle(now: now)
        return takeClosed()
    }

    private mutating func expireIdle(now: Double?) {
        while let (walk, index) = activity.first {
            guard !walk.closed, walk.lastEventIndex == index else {
                activity.removeFirst()
                continue
            }
            let idleEvents = eventIndex - index
            var idle = idleEvents > limits.windowEvents
            if !idle, let now, let t = walk.lastTime, now - t > limits.windowSeconds { idle = true }
            guard idle else { break }
            activity.removeFirst()
            finish(walk, .expired)
        }
    }
}
