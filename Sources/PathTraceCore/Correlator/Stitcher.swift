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
        /// A bound cut it off before it could complete: too many steps, open too long, or the trace's
        /// clock went back past it. The walk carries a note saying which; the rest is not in view.
        case cutOff
    }

    struct Limits {
        /// Events after which an idle walk is closed.
        var windowEvents = 4096
        /// Seconds of trace time after which an idle walk is closed (when events carry times).
        var windowSeconds = 2.0
        /// Walks open at once before the oldest is closed.
        var maxOpen = 16384
        /// Events since its first step after which a walk is cut off, however often it is joined: a
        /// packet's steps lie close together in any trace, and a walk that keeps joining (shuffled or
        /// repeated lines) would otherwise hold every walk behind it in the reply linker.
        var lifetimeEvents = 8192
        /// Seconds of trace time since its first step after which a walk is cut off.
        var lifetimeSeconds = 4.0
        /// Steps after which a walk is cut off (a real walk, even through a long ruleset, has far fewer).
        var maxSteps = 512
    }

    let limits: Limits
    private var nextPacket = 1
    /// The current event's index in the stream (see `Correlator.add`); the windows count in it.
    private var eventIndex = 0
    /// Events added to this stitcher (the end-of-input judgement counts only these).
    private var added = 0
    private var open: [Int: OpenWalk] = [:]
    /// Open walks by invariant key: the first of a chain linked through `OpenWalk.nextWithKey`.
    private var byKey: [InvariantKey: OpenWalk] = [:]
    private var byTraceID: [UInt32: OpenWalk] = [:]
    /// Activity queue for expiry: (walk, event index when touched); stale entries are skipped.
    private var activity: Deque<(OpenWalk, Int)> = Deque()
    /// Walks in the order they started, for the lifetime bound and eviction; closed ones are skipped.
    private var starts: Deque<OpenWalk> = Deque()
    /// The time of the last event that had one: a later event far before it means the clock went back.
    private var clock: Double?
    /// The event index of the last search for walks the clock went back past (see `addEvent`).
    private var clockScan = 0
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

    /// Adds one event, number `index` of the stream (increasing); returns the walks it closed (idle
    /// ones the event's time expired, and the walk the event completed), oldest first.
    mutating func add(_ event: TraceEvent, index: Int) -> [Closed] {
        eventIndex = index
        added += 1
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
        if let now = event.time {
            // The search visits every open walk, so on input whose clock jumps at every line (shuffled
            // lines) it runs only once per eighth of the open walks' count in events; `joinCost`
            // keeps walks it has not reached from joining across the jump meanwhile.
            if let clock, clock - now > limits.windowSeconds, eventIndex - clockScan >= open.count / 8 {
                clockScan = eventIndex
                cutOffAfterClockWentBack(from: clock, to: now)
            }
            clock = now
        }
        expireIdle(now: event.time)
        cutOffLongLived(now: event.time)
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
        if walk.complete || walk.dropped {
            finish(walk, .complete)
        } else if walk.steps.count >= limits.maxSteps {
            walk.notes.append(
                "cut off after \(walk.steps.count) steps: one packet's walk is never this long, so these steps are "
                    + "more than one packet's (repeated or shuffled lines)")
            finish(walk, .cutOff)
        }
    }

    /// Closes every open walk, oldest first. A walk idle long before the end was not cut off by it.
    mutating func finishAll(lastTime: Double?) -> [Closed] {
        for packet in open.keys.sorted() {
            guard let walk = open[packet] else { continue }
            var idle = added - walk.lastAdded > 32
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
        if hook == nil, let walk, !walk.steps.isEmpty, walk.last.table == event.table {
            hook = walk.lastPosition?.hook
        }
        if hook == nil {
            hook = Stitcher.hookFromInterfaces(event, after: walk?.lastPosition?.hook)
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

    static func hookFromInterfaces(_ event: TraceEvent, after previous: Hook?) -> Hook? {
        let hasIn = !(event.inIface ?? "").isEmpty
        let hasOut = !(event.outIface ?? "").isEmpty
        switch (hasIn, hasOut) {
        // Forwarded packets keep their input device at POSTROUTING (nft trace, kernel 6.18 nf_log).
        case (true, true): return previous == .forward || previous == .postrouting ? .postrouting : .forward
        case (true, false): return previous == .prerouting ? .input : .prerouting
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
        // A walk idle past the window, before or after the event (the clock went back), is over.
        if let t = event.time, let w = walk.lastTime, (t - w).magnitude > limits.windowSeconds { return nil }
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
        if event.hook != nil { return event.table + ":" + event.chain }
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
        let walk = OpenWalk(packet: nextPacket, eventIndex: eventIndex)
        nextPacket += 1
        open[walk.packet] = walk
        starts.append(walk)
        if open.count > limits.maxOpen, let oldest = oldestOpen() { finish(oldest, .evicted) }
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
            visibility.note(
                walk.currentUnit, at: hook, nat: event.table == "nat" || (event.kind == .rule && isNat(event)))
        }
        // Most walks have 5 to 8 steps: room for 8 once a second step comes, instead of growing through
        // 2, 4 and 8 (a step is over 500 bytes). Not at the first: on input that is not a tidy log most
        // walks have one step, and 8 would hold 4 KB each (scripts/bench-replay.sh, mutated lines).
        if index == 1 { walk.steps.reserveCapacity(8) }
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
        walk.lastAdded = added
        if let t = event.time {
            walk.lastTime = t
            if walk.firstTime == nil { walk.firstTime = t }
        }
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

    /// Trace time as the notes print it: to the millisecond.
    static func seconds(_ t: Double) -> String { "\((t * 1000).rounded() / 1000)" }

    /// The open walk that started first (closed walks at the front of `starts` are dropped).
    private mutating func oldestOpen() -> OpenWalk? {
        while let walk = starts.first, walk.closed { starts.removeFirst() }
        return starts.first
    }

    /// Cuts off the walks that started more than the lifetime ago (in events, or in trace time at
    /// `now`). Only the oldest is looked at in time: the event bound holds whatever the clock does.
    private mutating func cutOffLongLived(now: Double?) {
        while let walk = oldestOpen() {
            let events = eventIndex - walk.firstEventIndex
            if events > limits.lifetimeEvents {
                walk.notes.append(
                    "cut off \(events) events after its first step: one packet's steps lie closer together, so "
                        + "the rest of this walk is not in view")
            } else if let now, let t = walk.firstTime, now - t > limits.lifetimeSeconds {
                walk.notes.append(
                    "cut off \(Stitcher.seconds(now - t)) s after its first step: one packet's steps lie "
                        + "closer together, so the rest of this walk is not in view")
            } else {
                return
            }
            finish(walk, .cutOff)
        }
    }

    /// The trace's clock went back by more than the window (a reboot, or rotated logs joined in the
    /// wrong order): no later event belongs to a walk last seen after the new time, so those end here.
    private mutating func cutOffAfterClockWentBack(from before: Double, to now: Double) {
        var walks: [OpenWalk] = []
        for _ in 0..<starts.count {
            guard let walk = starts.removeFirst() else { break }
            if walk.closed { continue }
            starts.append(walk)
            if let t = walk.lastTime, t - now > limits.windowSeconds { walks.append(walk) }
        }
        for walk in walks {
            walk.notes.append(
                "cut off where the trace's clock goes back (\(Stitcher.seconds(before)) s, then "
                    + "\(Stitcher.seconds(now)) s: a reboot, or logs joined out of order): the rest of this "
                    + "walk is not in view")
            finish(walk, .cutOff)
        }
    }

    /// Closes the walks idle past the window, or past their lifetime, at stream index `index` (events
    /// of other namespaces came meanwhile).
    mutating func expire(index: Int) -> [Closed] {
        eventIndex = max(eventIndex, index)
        expireIdle(now: nil)
        cutOffLongLived(now: nil)
        return takeClosed()
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
