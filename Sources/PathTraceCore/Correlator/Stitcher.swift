import DequeModule

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
        /// Events a complete walk stays open for the bridge steps of its frame (the packet left through
        /// a bridge device: bridge OUTPUT and POSTROUTING follow IP POSTROUTING).
        var tailEvents = 16
        /// Seconds of trace time the same.
        var tailSeconds = 0.25
    }

    let limits: Limits
    private var nextPacket = 1
    /// The current event's index in the stream (see `Correlator.add`); the windows count in it.
    private var eventIndex = 0
    /// Events added to this stitcher (the end-of-input judgement counts only these).
    private var added = 0
    /// Walks open now (each is in `starts`, which also keeps some closed ones until they reach its front).
    private var openWalks = 0
    /// Open walks by invariant key: the first of a chain linked through `OpenWalk.nextWithKey`.
    private var byKey = WalkIndex()
    private var byTraceID: [UInt32: OpenWalk] = [:]
    /// Open walks by flow, for events without the IP invariants (ebtables LOG lines); kept only once
    /// such an event was seen.
    private var byFlow: [FrameFlow: OpenWalk] = [:]
    private var flowIndexing = false
    /// Open walks whose headers so far lack the IP invariants (only ebtables steps yet).
    private var weakOpen = 0
    /// Complete walks still open for their frame's bridge steps, with the event index when completed.
    private var completing: Deque<(OpenWalk, Int)> = Deque()
    /// Activity queue for expiry: (walk, event index when touched); stale entries are skipped.
    private var activity = ActivityQueue()
    /// Every open walk, in the order they started (packet order), for the lifetime bound, eviction and the
    /// end of input; closed ones are skipped.
    private var starts: Deque<OpenWalk> = Deque()
    /// The time of the last event that had one: a later event far before it means the clock went back.
    private var clock: Double?
    /// The event index of the last search for walks the clock went back past (see `addEvent`).
    private var clockScan = 0
    /// Rises with each walk of 4 or more steps that closes, falls twice as fast with each shorter one:
    /// from `longWalksNeeded` on, new walks get room for 8 steps at once (see `start`).
    private var longWalks = 0
    private static let longWalksNeeded = 16
    /// The questions `note` put to `visibility` lately, by a hash of each.
    private var noted = [NoteKey](repeating: .empty, count: NoteKey.slots)
    /// The same for kernel TRACE lines of the first tables of the name table (the iptables ones): a
    /// bit per hook and nat flag, where the slot's hash and compare cost about 30 instructions a step
    /// (callgrind, `replay --format json` of bench-out/t10.log).
    private var notedTraces = [UInt16](repeating: 0, count: Int(Stitcher.tracedTables))
    private static let tracedTables: UInt16 = 64
    /// The open walk at the front of `starts` (packet 0: not known), with its first event index and time,
    /// so the lifetime check of every event reads no walk (see `cutOffLongLived`).
    private var front = (packet: 0, firstEventIndex: 0, firstTime: 0.0)
    /// The entry of `activity` that `expireIdle` last found live and not idle, and its walk's last time
    /// (see `expiryDue`); index -1: none.
    private var quietFront = (index: -1, lastTime: Double?.none)
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

    /// Step arrays the printer handed back, for new walks' steps.
    let spares: SpareSteps

    init(
        limits: Limits = Limits(), visibility: Visibility = Visibility(), spares: SpareSteps = SpareSteps(),
        isNat: @escaping (TraceEvent) -> Bool = { _ in false },
        basePosition: @escaping (TraceEvent) -> HookPosition? = { _ in nil }
    ) {
        self.limits = limits
        self.visibility = visibility
        self.spares = spares
        self.isNat = isNat
        self.basePosition = basePosition
    }

    var openCount: Int { openWalks }

    /// Adds one event, number `index` of the stream (increasing); returns the walks it closed (idle
    /// ones the event's time expired, and the walk the event completed), oldest first.
    mutating func add(_ event: consuming TraceEvent, index: Int) -> [Closed] {
        eventIndex = index
        added += 1
        addEvent(event)
        return takeClosed()
    }

    /// The same, handing the walks it closed over in `closing` (empty on entry): the two lists trade
    /// places, so neither is allocated again for each walk that closes.
    mutating func add(_ event: consuming TraceEvent, index: Int, closing: inout [Closed]) {
        eventIndex = index
        added += 1
        addEvent(event)
        if !closed.isEmpty { swap(&closing, &closed) }
    }

    /// Hands over the walks closed since the last call (the list's storage goes with them).
    private mutating func takeClosed() -> [Closed] {
        if closed.isEmpty { return [] }
        var out: [Closed] = []
        swap(&out, &closed)
        return out
    }

    /// The best join found so far among an event's candidate walks (see `consider`).
    private struct Choice {
        /// Unretained: the candidates are in the stitcher's indexes until the event is added (a strong
        /// reference here and in the search cost six retains and releases per candidate).
        var walk: Unmanaged<OpenWalk>?
        var position: HookPosition?
        var cost = Int.max
        var ties = 0
        /// Whether the chosen walk's last identity and the event's are both full and show the same
        /// addresses and NAT ports (see `Join`).
        var sameEndpoints = false
        /// The chosen walk's progress after the event's stage, when `joinCost` worked it out.
        var progress: FramePaths.Progress?
    }

    /// Weighs `walk` as the event's next walk: the cheapest join wins, the earliest packet among equals.
    /// The choice does not depend on the order the candidates come in.
    ///
    /// This and the joining functions it calls are `mutating` only so that calls from `addEvent` pass
    /// the stitcher by address: a non-mutating call from a mutating one copied the whole stitcher
    /// (352 bytes) first, twice per event (callgrind, `replay --format json` of bench-out/t10.log).
    private mutating func consider(
        _ walk: OpenWalk, _ event: borrowing TraceEvent, _ identity: HeaderIdentity, byFlowOnly: Bool,
        fixed: HookPosition?, keyed: Bool = false, into choice: inout Choice
    ) {
        guard let join = joinCost(walk, event, identity, fixed: fixed, keyed: keyed) else { return }
        var cost = join.cost
        // A frame's steps come one after another (the kernel runs its hooks in one go): without
        // the IP invariants, the walk that printed last is the likely one.
        if byFlowOnly && walk.lastEventIndex != eventIndex - 1 { cost += 1 }
        if cost < choice.cost
            || (cost == choice.cost && walk.packet < (choice.walk?._withUnsafeGuaranteedRef { $0.packet } ?? .max))
        {
            if cost < choice.cost { choice.ties = 0 }
            choice.walk = Unmanaged.passUnretained(walk)
            choice.position = join.position
            choice.cost = cost
            choice.sameEndpoints = join.sameEndpoints
            choice.progress = join.progress
        }
        if cost == choice.cost { choice.ties += 1 }
    }

    private mutating func addEvent(_ event: consuming TraceEvent) {
        let time = event.time
        if let now = time {
            // The search visits every open walk, so on input whose clock jumps at every line (shuffled
            // lines) it runs only once per eighth of the open walks' count in events; `joinCost`
            // keeps walks it has not reached from joining across the jump meanwhile.
            if let clock, clock - now > limits.windowSeconds, eventIndex - clockScan >= openWalks / 8 {
                clockScan = eventIndex
                cutOffAfterClockWentBack(from: clock, to: now)
            }
            clock = now
        }
        if expiryDue(now: time) { expireIdle(now: time) }
        if longLivedDue(now: time) { cutOffLongLived(now: time) }
        // Most events have no complete walk waiting (`first` of the empty deque cost more than this).
        if !completing.isEmpty { closeCompleted(now: time) }
        // The best join among the candidates: the walk with the trace id, then those with the
        // event's invariant key, or (a record without the IP invariants) its flow (each once).
        var choice = Choice()
        // The event's position when no walk changes it, found once for all candidates.
        let fixed = fixedPosition(of: event)
        // Not an optional (`exists` tells): passed to each candidate's `joinCost` and to `append`, an
        // optional was unwrapped into a copy at each (callgrind, `replay --format json` of bench-out/t10.log).
        let identity = event.hasHeader ? HeaderIdentity(event.headerValue) : HeaderIdentity()
        let weak = identity.exists && identity.isWeak
        // A LOG line prints the fields its rule asked for (no TCP sequence without
        // --log-tcp-sequence): it finds its walk by flow, as an ebtables line does.
        let byFlowOnly = weak || event.kind == .log
        if byFlowOnly && !flowIndexing { startFlowIndex() }
        // The event's invariant key, when it looks walks up by it (`append` indexes its walk by it).
        var eventKey = WalkIndex.Key.vacant
        if !byFlowOnly { eventKey = identity.indexKey }
        // Its identity only: a strong optional here was released at the end of every event (callgrind,
        // `replay --format json` of bench-out/t10.log).
        var byID: ObjectIdentifier?
        if let id = event.traceID, let walk = byTraceID[id] {
            byID = ObjectIdentifier(walk)
            consider(walk, event, identity, byFlowOnly: byFlowOnly, fixed: fixed, into: &choice)
        }
        if !eventKey.isVacant {
            var next = byKey.first(eventKey)
            while let candidate = next {
                next = candidate._withUnsafeGuaranteedRef { walk in
                    if ObjectIdentifier(walk) != byID {
                        consider(
                            walk, event, identity, byFlowOnly: byFlowOnly, fixed: fixed, keyed: true, into: &choice)
                    }
                    return walk.nextWithKey.map { Unmanaged.passUnretained($0) }
                }
            }
        }
        if flowIndexing && openWalks > 0 && (byFlowOnly || weakOpen > 0), let flow = FrameFlow(identity, of: event) {
            // The newest walks of the flow come first; a frame's walk is among the few it has in flight
            // (a long flow keeps many later packets' walks open until their window ends).
            var next = byFlow[flow]
            var scanned = 0
            while let walk = next, scanned < Stitcher.flowScan {
                // A full header finds a walk of full headers by its invariant key above.
                if ObjectIdentifier(walk) != byID && (byFlowOnly || walk.indexKey.isVacant) {
                    consider(walk, event, identity, byFlowOnly: byFlowOnly, fixed: fixed, into: &choice)
                }
                next = walk.nextWithFlow
                scanned += 1
            }
        }
        // The walk the last event joined or started is at the back of `activity` (each `append` touches
        // it there; expiry takes an entry only from the front, and a walk whose entry went is closed).
        if choice.walk == nil, event.family == .bridge, let walk = activity.back?.takeUnretainedValue(),
            !walk.closed, ObjectIdentifier(walk) != byID, FrameFlow(identity, of: event) == nil
        {
            // A bridge record with nothing of the frame in it (nfnetlink_log has no link-layer header
            // at bridge OUTPUT and POSTROUTING, and copies nothing of a frame that is not IP): the frame
            // whose hooks ran just before is the one.
            consider(walk, event, identity, byFlowOnly: byFlowOnly, fixed: fixed, into: &choice)
        }
        guard let chosen = choice.walk else {
            // A LOG line of no traced packet is a record of its own.
            let ownRecord = event.kind == .log && event.family != .bridge
            let walk = start(event, identity, key: eventKey, keyKnown: !byFlowOnly, fixed: fixed)
            if ownRecord {
                finish(walk, .complete)
            } else if walk.complete {
                hold(walk)
            }
            return
        }
        // Unretained, as in the search: `starts` holds every open walk until it is closed and reaches
        // the front, and no step of the join drops one from there (a retain and a release per event
        // otherwise; callgrind, `replay --format json` of bench-out/t10.log).
        unowned(unsafe) let walk = chosen.takeUnretainedValue()
        if choice.ties > 1 {
            walk.confidence = min(walk.confidence, 1 / Double(choice.ties))
            walk.notes.append(
                "step \(walk.steps.count + 1) (\(event.source)) joined by header identity among \(choice.ties) equal walks"
            )
        }
        append(
            event, identity, key: eventKey, keyKnown: !byFlowOnly, to: walk, position: choice.position,
            sameEndpoints: choice.sameEndpoints, progress: choice.progress)
        if walk.dropped {
            finish(walk, .complete)
        } else if walk.complete {
            hold(walk)
        } else if walk.steps.count >= limits.maxSteps {
            walk.notes.append(
                "cut off after \(walk.steps.count) steps: one packet's walk is never this long, so these steps are "
                    + "more than one packet's (repeated or shuffled lines)")
            finish(walk, .cutOff)
        }
    }

    /// Walks of one flow a record without the IP invariants is compared with, newest first.
    static let flowScan = 16

    /// Keeps a complete walk open for a few events: a bridge device may still send its frame.
    private mutating func hold(_ walk: OpenWalk) {
        completing.append((walk, walk.lastEventIndex))
    }

    /// Closes the complete walks held past the tail.
    private mutating func closeCompleted(now: Double?) {
        while let (walk, index) = completing.first {
            guard !walk.closed, walk.lastEventIndex == index else {
                completing.removeFirst()
                continue
            }
            var due = eventIndex - index > limits.tailEvents
            if !due, let now, let t = walk.lastTime, now - t > limits.tailSeconds { due = true }
            guard due else { break }
            completing.removeFirst()
            finish(walk, .complete)
        }
    }

    /// Indexes the open walks by flow, from the first event that needs it on.
    private mutating func startFlowIndex() {
        flowIndexing = true
        for walk in starts where !walk.closed {
            guard let i = walk.lastHeaderIndex else { continue }
            let key = FrameFlow(walk.identity, of: walk.steps[i].event)
            if let key { indexFlow(walk, flow: key) }
        }
    }

    private mutating func indexFlow(_ walk: OpenWalk, flow key: FrameFlow) {
        guard !walk.flowIndexed || key != walk.flowKey else { return }
        if let old = walk.flowKey { unindex(walk, flow: old) }
        walk.nextWithFlow = byFlow[key]
        byFlow[key] = walk
        walk.flowKey = key
        walk.flowIndexed = true
    }

    /// Takes `walk` out of the chain of walks with flow `key`.
    private mutating func unindex(_ walk: OpenWalk, flow key: FrameFlow) {
        defer { walk.nextWithFlow = nil }
        guard let head = byFlow[key] else { return }
        if head === walk {
            byFlow[key] = walk.nextWithFlow
            return
        }
        var previous = head
        while let next = previous.nextWithFlow {
            if next === walk {
                previous.nextWithFlow = walk.nextWithFlow
                return
            }
            previous = next
        }
    }

    /// Closes every open walk, oldest first. A walk idle long before the end was not cut off by it.
    mutating func finishAll(lastTime: Double?) -> [Closed] {
        for walk in starts where !walk.closed {
            var idle = added - walk.lastAdded > 32
            if let now = lastTime, let t = walk.lastTime, now - t > 0.5 { idle = true }
            finish(walk, walk.complete ? .complete : idle ? .expired : .endOfInput)
        }
        return takeClosed()
    }

    // MARK: - Joining

    /// Where an event ran when no walk changes it (see `position(of:in:)`): a declared base chain, or
    /// the hook it names. Nil when the walk may matter.
    mutating func fixedPosition(of event: borrowing TraceEvent) -> HookPosition? {
        let layer: Netfilter.Layer = event.family == .bridge ? .bridge : .ip
        if event.origin != .kernelTrace {
            if var declared = basePosition(event) {
                declared.layer = layer
                return declared
            }
        } else if let hook = event.hook, layer == .ip, event.tableSlot.raw < NameSlot.boxed.raw,
            let p = Netfilter.priority(tableID: UInt32(event.tableSlot.raw), hook: hook)
        {
            // An iptables table's TRACE line, as `priority(of:at:)` finds it first, without the call
            // (every event of a kernel log; callgrind, `replay --format json` of bench-out/t10.log).
            return HookPosition(hook: hook, priority: p, layer: .ip)
        }
        guard let hook = event.hook else { return nil }
        return HookPosition(hook: hook, priority: Stitcher.priority(of: event, at: hook), layer: layer)
    }

    /// Where an event ran: its own hook, or (user chains) the hook of the walk that jumped there.
    /// `fixedChecked`: `fixedPosition` found none.
    mutating func position(of event: TraceEvent, in walk: OpenWalk?, fixedChecked: Bool = false) -> HookPosition? {
        let layer: Netfilter.Layer = event.family == .bridge ? .bridge : .ip
        if !fixedChecked, event.origin != .kernelTrace, var declared = basePosition(event) {
            declared.layer = layer
            return declared
        }
        if event.kind == .log && event.hook == nil { return Stitcher.logPosition(event, layer: layer, in: walk) }
        var hook = event.hook
        // nft chains have free names, but most say their hook (firewall4's `mangle_prerouting`, `dstnat`).
        if hook == nil, event.traceID != nil { hook = Stitcher.hookFromName(event.chainName) }
        if hook == nil, let walk, !walk.steps.isEmpty, walk.lastTraced.tableName == event.tableName {
            hook = walk.lastPosition?.hook
        }
        if hook == nil {
            hook = Stitcher.hookFromInterfaces(
                event, after: walk?.lastPosition?.hook, keepsHook: event.traceID != nil)
        }
        guard let hook else { return nil }
        return HookPosition(hook: hook, priority: Stitcher.priority(of: event, at: hook), layer: layer)
    }

    /// A LOG line says no chain: it ran at the hook its interfaces allow (IN only: PREROUTING or INPUT;
    /// IN and OUT: FORWARD, or POSTROUTING of a forwarded packet; OUT only: OUTPUT or POSTROUTING),
    /// the walk's current one when it is among them, else the first the walk can still reach.
    static func logPosition(_ event: TraceEvent, layer: Netfilter.Layer, in walk: OpenWalk?) -> HookPosition? {
        let hasIn = event.inIfaceName.isPresent
        let hasOut = event.outIfaceName.isPresent
        let candidates: [Hook]
        switch (hasIn, hasOut) {
        case (true, true): candidates = layer == .bridge ? [.forward] : [.forward, .postrouting]
        case (true, false): candidates = [.prerouting, .input]
        case (false, true): candidates = [.output, .postrouting]
        default: candidates = []
        }
        if let last = walk?.lastPosition, last.layer == layer, candidates.isEmpty || candidates.contains(last.hook) {
            return last
        }
        if let progress = walk?.progress {
            for hook in candidates where progress.advanced(to: FramePaths.Stage(layer, hook)) != nil {
                return HookPosition(hook: hook, priority: priority(of: event, at: hook), layer: layer)
            }
        }
        guard let hook = candidates.first else { return walk?.lastPosition }
        return HookPosition(hook: hook, priority: priority(of: event, at: hook), layer: layer)
    }

    static func priority(of event: TraceEvent, at hook: Hook) -> Int {
        if event.family == .bridge { return bridgePriority(of: event, at: hook) }
        // An iptables table, from its slot (no `Name` made).
        if event.tableSlot.raw < NameSlot.boxed.raw,
            let p = Netfilter.priority(tableID: UInt32(event.tableSlot.raw), hook: hook)
        {
            return p
        }
        if let p = Netfilter.priority(table: event.tableName, hook: hook) { return p }
        // pathtrace's own live table (TraceRulePlan.nftPriority: raw - 1).
        if event.tableName.hasPrefix("pathtrace_") { return -301 }
        // nft tables have free names; guess from the usual naming of chains and tables.
        if named(event, "raw") { return -300 }
        if named(event, "mangle") { return -150 }
        if named(event, "nat") { return hook == .postrouting || hook == .input ? 100 : -100 }
        return 0
    }

    /// Whether the event's table or chain name holds `word` (lower-case ASCII letters), compared
    /// without case. Every candidate walk of every event of a free-named nft table asks: Foundation's
    /// `lowercased().contains` took 86% of a replay of `nft monitor trace` output (callgrind), so
    /// ASCII names are searched by their bytes; a name with other bytes keeps Foundation's comparison.
    static func named(_ event: TraceEvent, _ word: StaticString) -> Bool {
        switch (contains(event.tableName, word), contains(event.chainName, word)) {
        case (true?, _), (_, true?): return true
        case (false?, false?): return false
        default: return (event.table + " " + event.chain).lowercased().contains(word.description)
        }
    }

    /// Whether an ASCII name holds `word` (lower-case letters) in any case; nil for a name with a
    /// byte outside ASCII.
    private static func contains(_ name: Name, _ word: StaticString) -> Bool? {
        name.bytes.withMemoryRebound(to: UInt8.self) { bytes -> Bool? in
            let w = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
            var found = false
            for b in bytes where b >= 0x80 { return nil }
            if bytes.count >= w.count {
                search: for start in 0...(bytes.count - w.count) {
                    for i in 0..<w.count where (bytes[start + i] | 0x20) != w[i] { continue search }
                    found = true
                    break
                }
            }
            return found
        }
    }

    /// An ebtables table's priority, or (nft bridge tables have free names) a guess from the name.
    static func bridgePriority(of event: TraceEvent, at hook: Hook) -> Int {
        if let p = Netfilter.bridgePriority(table: event.tableName.string, hook: hook) { return p }
        if named(event, "broute") { return Netfilter.BridgePriority.first }
        switch hook {
        case .brouting: return Netfilter.BridgePriority.first
        case .prerouting: return named(event, "nat") ? Netfilter.BridgePriority.natDstBridged : 0
        case .input, .forward: return Netfilter.BridgePriority.filterBridged
        case .output:
            return named(event, "nat") ? Netfilter.BridgePriority.natDstOther : Netfilter.BridgePriority.filterOther
        case .postrouting: return Netfilter.BridgePriority.natSrc
        }
    }

    /// Whether an event's priority is a fact (an iptables table, pathtrace's table, a declared nft
    /// chain, an ebtables table named by its LOG prefix) rather than a guess from its name.
    mutating func priorityKnown(_ event: TraceEvent) -> Bool {
        if event.family == .bridge, let hook = event.hook {
            if basePosition(event) != nil { return true }
            // ebtables-nft puts filter OUTPUT at the bridge `filter` priority, −200, before nat OUTPUT
            // (100); legacy ebtables at 200, after it: from a LOG line's prefix, the order is not known.
            if event.tableName == .filter && hook == .output { return false }
            return Netfilter.bridgePriority(table: event.tableName.string, hook: hook) != nil
        }
        if event.kind == .log { return false }
        if event.origin == .kernelTrace || event.tableName.hasPrefix("pathtrace_") { return true }
        if event.tableName.isIptablesTable { return true }
        return basePosition(event) != nil
    }

    /// The hook a chain's name says, as a word of it: `mangle_prerouting`, `filter_INPUT`, `dstnat`.
    /// Scans the bytes in place: every event of a free-named nft chain asks.
    static func hookFromName(_ chain: Name) -> Hook? {
        chain.bytes.withMemoryRebound(to: UInt8.self) { bytes -> Hook? in
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
        let hasIn = event.inIfaceName.isPresent
        let hasOut = event.outIfaceName.isPresent
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
    /// event's header identity (not `exists` when it has no header).
    /// `fixed`: the event's `fixedPosition`.
    /// `keyed`: the walk is in the index under the event's invariant key (see `invariantsAgree`).
    mutating func joinCost(
        _ walk: OpenWalk, _ event: TraceEvent, _ identity: HeaderIdentity, fixed: HookPosition?, keyed: Bool = false
    ) -> Join? {
        guard !walk.dropped, !walk.steps.isEmpty, let lastPos = walk.lastPosition,
            let pos = fixed ?? position(of: event, in: walk, fixedChecked: true)
        else { return nil }
        // A walk idle past the window, before or after the event (the clock went back), is over.
        if let t = event.time, let w = walk.lastTime, (t - w).magnitude > limits.windowSeconds { return nil }
        // A complete walk waits only for its frame's bridge OUTPUT and POSTROUTING steps.
        if walk.complete && !(pos.layer == .bridge && (pos.hook == .output || pos.hook == .postrouting)) {
            return nil
        }
        var cost = 0
        // The walk's progress after this stage, handed to `append` (nil: it stays, or none is known).
        var nextProgress: FramePaths.Progress?
        let ipLog = event.kind == .log && event.family != .bridge
        if Stitcher.sameStage(pos, lastPos) {
            // Only priorities that are known (iptables tables, declared nft chains) may refuse an order.
            if pos.priority < lastPos.priority && !Stitcher.sameName(event.tableSlot, walk.tracedTable)
                && event.tableName != walk.lastTraced.tableName
                && priorityKnown(event) && priorityKnown(walk.lastTraced)
            {
                return nil
            }
            if !ipLog {
                let lastEnded = walk.tracedEnded
                if let key = Stitcher.invocationKey(event, in: walk) {
                    if walk.finishedTables.contains(packed: key) { return nil }
                    if key == walk.currentKey && lastEnded { return nil }
                } else {
                    let unit = Stitcher.invocation(event, in: walk)
                    if walk.finishedTables.contains(unit) { return nil }
                    if unit == walk.currentUnit && lastEnded { return nil }
                }
            }
            if Stitcher.sameName(event.tableSlot, walk.tracedTable)
                && Stitcher.sameName(event.chainSlot, walk.tracedChain)
                || Stitcher.hasBoxed(event.tableSlot, event.chainSlot, walk.tracedTable, walk.tracedChain)
                    && event.tableName == walk.lastTraced.tableName && event.chainName == walk.lastTraced.chainName
            {
                if case .number(let n) = event.rule, case .number(let m) = walk.lastTraced.rule, n <= m { return nil }
            }
        } else if let progress = walk.progress {
            if let next = progress.advanced(to: pos.stage) {
                nextProgress = next
            } else {
                guard let copy = progress.floodCopy(at: pos.stage), let port = Stitcher.egressPort(event),
                    !walk.egressPorts.contains(port)
                else { return nil }
                nextProgress = copy
            }
        } else {
            guard Netfilter.isLater(pos.hook, than: lastPos.hook) else { return nil }
        }
        let sameHookID = event.traceID != nil && event.traceID == walk.last.traceID && pos.hook == lastPos.hook
        if !sameHookID { cost += 1 }
        guard identity.exists else {
            return Join(cost: sameHookID ? cost : cost + 4, position: pos, progress: nextProgress)
        }
        guard walk.hasIdentity else { return Join(cost: cost + 2, position: pos, progress: nextProgress) }
        // The walk's identity is read in place (`walk.identity`'s methods load only what they compare).
        if !walk.identity.invariantsAgree(with: identity, sameKey: keyed) { return nil }
        if identity.isWeak || walk.identity.isWeak {
            return weakJoin(walk, event, identity, lastPos, pos, cost: cost, progress: nextProgress)
        }
        // Both full: nothing to overlay (the usual case). Apart from `weakJoin`, whose calls take the
        // identities in memory: with them here, both were copied out for every candidate (callgrind,
        // `replay --format json` of bench-out/t10.log).
        let sameSource = walk.identity.sameSource(as: identity)
        if !sameSource {
            guard lastPos.crossesSrcNat(to: pos) else { return nil }
        }
        let sameDestination = walk.identity.sameDestination(as: identity)
        if !sameDestination {
            guard lastPos.crossesDstNat(to: pos) else { return nil }
        }
        if !walk.identity.sameTTL(as: identity) {
            guard walk.identity.ttl == identity.ttl.map({ $0 &+ 1 }),
                FramePaths.crossesForwarding(from: lastPos.stage, to: pos.stage)
            else { return nil }
        }
        // At the walk's own hook with devices its last step shows alike (or missing), `portsCheck` would
        // pass: asked here, the call is left for the rest (callgrind, `replay --format json` of
        // bench-out/t10.log).
        let sameDevices =
            pos.layer == lastPos.layer && pos.hook == lastPos.hook
            && !Stitcher.differentDevices(walk.lastInSlot, event.inIfaceSlot)
            && (pos.hook == .output || !Stitcher.differentDevices(walk.lastOutSlot, event.outIfaceSlot))
        guard sameDevices || portsCheck(walk, lastPos, event, pos) else { return nil }
        return Join(cost: cost, position: pos, sameEndpoints: sameSource && sameDestination, progress: nextProgress)
    }

    /// `joinCost`'s end when either identity lacks the IP invariants (an ebtables or LOG line's):
    /// only the fields both records show are compared.
    @inline(never)
    private mutating func weakJoin(
        _ walk: OpenWalk, _ event: TraceEvent, _ identity: HeaderIdentity, _ lastPos: HookPosition,
        _ pos: HookPosition, cost: Int, progress nextProgress: FramePaths.Progress?
    ) -> Join? {
        guard identity.exists, walk.hasIdentity else { return nil }
        let seen = identity
        let known = walk.identity
        let h = seen.isWeak ? known.overlaid(with: seen) : seen
        let w = known.isWeak && !seen.isWeak ? seen.overlaid(with: known) : known
        if !w.sameSource(as: h) {
            guard lastPos.crossesSrcNat(to: pos) else { return nil }
        }
        if !w.sameDestination(as: h) {
            guard lastPos.crossesDstNat(to: pos) else { return nil }
        }
        if !w.sameTTL(as: h), let a = w.ttl, let b = h.ttl {
            guard a == b &+ 1, FramePaths.crossesForwarding(from: lastPos.stage, to: pos.stage) else { return nil }
        }
        return portsCheck(walk, lastPos, event, pos) ? Join(cost: cost, position: pos, progress: nextProgress) : nil
    }

    /// What `joinCost` found for a walk the event may join.
    struct Join {
        /// Lower is better.
        var cost: Int
        var position: HookPosition
        /// Both identities full, with the same addresses and NAT ports: `append` records no change
        /// without comparing them again (callgrind, `replay --format json` of bench-out/t10.log).
        var sameEndpoints = false
        /// The walk's progress after the event's stage, when it moves on (`append` sets it as found).
        var progress: FramePaths.Progress?
    }

    /// Whether the event's ports and devices may follow the walk's last step's.
    private mutating func portsCheck(
        _ walk: OpenWalk, _ lastPos: HookPosition, _ event: TraceEvent, _ pos: HookPosition
    ) -> Bool {
        if pos.layer != lastPos.layer {
            // A bridge step names the port; an IP step of a bridged frame names it as PHYSIN/PHYSOUT.
            if !Stitcher.portsAgree(walk.last, lastPos, event, pos) { return false }
        } else {
            if pos.hook == lastPos.hook || (lastPos.hook == .prerouting && pos.hook != .postrouting) {
                if Stitcher.differentDevices(walk.lastInSlot, event.inIfaceSlot),
                    let a = walk.last.inIfaceName, let b = event.inIfaceName, !a.isEmpty, !b.isEmpty, a != b
                {
                    return false
                }
            }
            if pos.hook == lastPos.hook && pos.hook != .output {
                if Stitcher.differentDevices(walk.lastOutSlot, event.outIfaceSlot),
                    let a = walk.last.outIfaceName, let b = event.outIfaceName, !a.isEmpty, !b.isEmpty, a != b
                {
                    return false
                }
            }
        }
        return true
    }

    /// The bridge port a bridge step's frame left through (an ebtables line's OUT, an nfnetlink_log
    /// record's PHYSOUT).
    static func egressPort(_ event: TraceEvent) -> Name? {
        guard event.family == .bridge else { return nil }
        if let p = event.physOutName, !p.isEmpty { return p }
        if let o = event.outIfaceName, !o.isEmpty { return o }
        return nil
    }

    /// Whether a bridge step and an IP step name the same ports: the bridge step's IN/OUT (or PHYSIN/
    /// PHYSOUT) are ports, which an IP step of a bridged frame shows as PHYSIN/PHYSOUT. Only ports both
    /// show are compared, and the input port only while the frame is still on its way in.
    static func portsAgree(_ a: TraceEvent, _ aPos: HookPosition, _ b: TraceEvent, _ bPos: HookPosition) -> Bool {
        func port(_ e: TraceEvent, input: Bool) -> Name? {
            let phys = input ? e.physInName : e.physOutName
            if let p = phys, !p.isEmpty { return p }
            guard e.family == .bridge else { return nil }
            let dev = input ? e.inIfaceName : e.outIfaceName
            return dev.isPresent ? dev : nil
        }
        let inbound: Set<Hook> = [.brouting, .prerouting, .input, .forward]
        if inbound.contains(aPos.hook) && inbound.contains(bPos.hook),
            let x = port(a, input: true), let y = port(b, input: true), x != y
        {
            return false
        }
        if let x = port(a, input: false), let y = port(b, input: false), x != y,
            aPos.hook != .input && bPos.hook != .input
        {
            // A flooded frame's copies leave through different ports: a bridge step may start the next
            // copy after an IP step of the last one, but an IP step follows its own copy's bridge step.
            return !(bPos.layer == .ip && aPos.layer == .bridge)
        }
        return true
    }

    /// `invocation` packed as `FinishedUnits` packs a unit, read from the name slots without making a
    /// `ChainUnit` (its names' copies and releases were a tenth of `append`); nil when a name is boxed.
    static func invocationKey(_ event: borrowing TraceEvent, in walk: OpenWalk?) -> UInt64? {
        let table = event.tableSlot.raw
        guard table < NameSlot.boxed.raw else { return nil }
        if event.origin == .kernelTrace { return UInt64(table) << 34 | 1 }
        let chain = event.chainSlot.raw
        if event.hook == nil && !event.startsChain, let walk, !walk.steps.isEmpty {
            let last = walk.tracedTable
            if last.raw == table { return walk.currentKey != 0 ? walk.currentKey : nil }
            // The empty name may be in its slot as none: the names tell.
            if last.raw >= NameSlot.boxed.raw { return nil }
        }
        guard chain < NameSlot.boxed.raw else { return nil }
        return UInt64(table) << 34 | UInt64(chain) << 2 | 3
    }

    /// The unit that runs once per hook: an iptables table, or (nft) a table's base chain; a user
    /// chain belongs to the base chain that jumped to it.
    static func invocation(_ event: TraceEvent, in walk: OpenWalk?) -> ChainUnit {
        if event.origin == .kernelTrace { return ChainUnit(table: event.tableName) }
        if event.hook != nil || event.startsChain { return ChainUnit(table: event.tableName, chain: event.chainName) }
        if let walk, !walk.steps.isEmpty, walk.lastTraced.tableName == event.tableName { return walk.currentUnit }
        return ChainUnit(table: event.tableName, chain: event.chainName)
    }

    /// Whether two positions are at one stage (their `stage`s equal), without making the stages: only
    /// the bridge broute hook is another hook's stage (PREROUTING's). Every candidate of every event
    /// asks (callgrind, `replay --format json` of bench-out/t10.log).
    @inline(__always) static func sameStage(_ a: HookPosition, _ b: HookPosition) -> Bool {
        guard a.layer == b.layer else { return false }
        if a.hook == b.hook { return true }
        return a.layer == .bridge && (a.hook == .brouting || a.hook == .prerouting)
            && (b.hook == .brouting || b.hook == .prerouting)
    }

    /// Whether the event's table is `nat`, from its slot when the name is in the table (no `Name` made).
    @inline(__always) static func isNat(_ slot: NameSlot, _ event: borrowing TraceEvent) -> Bool {
        slot.raw < NameSlot.boxed.raw ? slot == NameSlot.of(.nat) : event.tableName == .nat
    }

    // Names compared by their slots: a table id each, so no `Name` is made (and released) to compare
    // them, which cost the joining about 10 instructions per name read (callgrind on bench-out/t10.log).

    /// Whether two slots are of one table name (false when either is boxed: compare the names then).
    @inline(__always) static func sameName(_ a: NameSlot, _ b: NameSlot) -> Bool {
        a == b && a.raw < NameSlot.boxed.raw
    }

    /// Whether any of the slots holds a boxed name (or none), so only the names tell.
    @inline(__always) static func hasBoxed(_ a: NameSlot, _ b: NameSlot, _ c: NameSlot, _ d: NameSlot) -> Bool {
        a.raw >= NameSlot.boxed.raw || b.raw >= NameSlot.boxed.raw || c.raw >= NameSlot.boxed.raw
            || d.raw >= NameSlot.boxed.raw
    }

    /// False when two device slots show the devices cannot differ (same table name, or one missing or
    /// empty); true when the names must be compared.
    @inline(__always) static func differentDevices(_ a: NameSlot, _ b: NameSlot) -> Bool {
        if a == .none || b == .none || a == .empty || b == .empty { return false }
        return a != b || a == .boxed
    }

    // MARK: - Walk bookkeeping

    private mutating func start(
        _ event: consuming TraceEvent, _ identity: HeaderIdentity, key: WalkIndex.Key, keyKnown: Bool,
        fixed: HookPosition?
    ) -> OpenWalk {
        let walk = OpenWalk(packet: nextPacket, eventIndex: eventIndex)
        nextPacket += 1
        openWalks += 1
        starts.append(walk)
        if openWalks > limits.maxOpen, let oldest = oldestOpen() { finish(oldest, .evicted) }
        let bridge = event.family == .bridge
        let notes = event.kind != .log || bridge
        let position = fixed ?? position(of: event, in: nil, fixedChecked: true)
        // Most walks of a tidy log have 5 to 8 steps: room for 8 at once, instead of growing through 1,
        // 2, 4 and 8 (a step is 176 bytes). Only while recent walks were that long: on input that
        // is not a tidy log most walks have one step, and 8 would hold 3 KB each (scripts/bench-replay.sh,
        // mutated lines).
        if longWalks >= Stitcher.longWalksNeeded { spares.makeRoom(in: &walk.steps) }
        append(event, identity, key: key, keyKnown: keyKnown, to: walk, position: position)
        if let position = walk.lastPosition, !FramePaths.isEntry(position.stage), notes {
            let hook = bridge ? "bridge \(position.hook.rawValue)" : position.hook.rawValue
            walk.notes.append("first step is at \(hook), not where a packet enters: the start is missing")
        }
        return walk
    }

    private mutating func append(
        _ event: consuming TraceEvent, _ identity: HeaderIdentity, key eventKey: WalkIndex.Key, keyKnown: Bool,
        to walk: OpenWalk, position: HookPosition?, sameEndpoints: Bool = false,
        progress found: FramePaths.Progress? = nil
    ) {
        let index = walk.steps.count
        // A LOG line neither starts nor ends a table's run: the TRACE lines around it keep theirs.
        let ipLog = event.kind == .log && event.family != .bridge
        // Whether the event is at the walk's stage (both unknown counts as the same), found once.
        let sameStage: Bool
        if let position, let lastPos = walk.lastPosition {
            sameStage = Stitcher.sameStage(position, lastPos)
            if !sameStage { walk.finishedTables.removeAll() }
        } else {
            sameStage = position == nil && walk.lastPosition == nil
        }
        // The unit the event ran in (LOG lines leave the walk's as it is), packed when it can be. A
        // boxed unit is taken apart: its optional's release at the end of every event cost this
        // function about 10 instructions per event (callgrind, `replay --format json` of bench-out/t10.log).
        if !ipLog {
            if let key = Stitcher.invocationKey(event, in: walk) {
                if index > 0, sameStage, walk.tracedEnded || walk.currentKey != key { walk.finishCurrentUnit() }
                walk.currentKey = key
            } else {
                Stitcher.takeBoxedUnit(event, to: walk, atStage: index > 0 && sameStage)
            }
        }
        if let position {
            let stage = position.stage
            if let found {
                walk.progress = found
            } else if let progress = walk.progress {
                // At the same stage the progress stays as it is (`advanced` would return it).
                if progress.stage != stage,
                    let next = progress.advanced(to: stage) ?? progress.floodCopy(at: stage)
                {
                    walk.progress = next
                }
            } else if walk.steps.isEmpty {
                walk.progress = FramePaths.Progress(at: stage)
            }
        }
        if event.family == .bridge, let port = Stitcher.egressPort(event), !walk.egressPorts.contains(port) {
            walk.egressPorts.append(port)
        }
        if let hook = position?.hook, event.kind != .log, event.family != .bridge {
            // Legacy TRACE (kernel log, or nfnetlink_log) carries no trace id; nft sources always do.
            let legacy = event.origin == .kernelTrace || (event.origin == .netlink && event.traceID == nil)
            let nat = event.tableSlot == NameSlot.of(.nat) || (event.kind == .rule && isNat(event))
            if event.origin == .kernelTrace, event.tableSlot.raw < Stitcher.tracedTables {
                // A kernel TRACE line's question is its table's at its hook (the unit is the table, and
                // so is the legacy table): one bit of the table's word says whether it was put.
                let table = Int(event.tableSlot.raw)
                let bit: UInt16 = 1 &<< (hook.number &* 2 | (nat ? 1 : 0))
                if notedTraces[table] & bit == 0 {
                    visibility.note(walk.currentUnit, at: hook, nat: nat, legacyTable: event.tableName)
                    notedTraces[table] |= bit
                }
            } else if walk.currentKey != 0, event.tableSlot.raw < NameSlot.boxed.raw,
                let key = NoteKey(
                    packed: walk.currentKey, hook: hook, nat: nat, legacyTable: legacy ? event.tableSlot : nil)
            {
                let slot = key.slot
                if noted[slot] != key {
                    visibility.note(walk.currentUnit, at: hook, nat: nat, legacyTable: legacy ? event.tableName : nil)
                    noted[slot] = key
                }
            } else {
                note(walk.currentUnit, at: hook, nat: nat, legacyTable: legacy ? event.tableName : nil)
            }
        }
        // Room for 8 once a second step comes, when the first did not make it (see `start`).
        if index == 1 && walk.steps.capacity < 2 { spares.makeRoom(in: &walk.steps) }
        // A record with fewer fields (an ebtables line, a LOG line without the TCP sequence) keeps
        // what the walk knew of the packet.
        if sameEndpoints && !ipLog && keyKnown && !flowIndexing && !walk.weak && eventKey == walk.indexKey {
            // Most steps: both identities full with the same addresses (`joinCost` found them), under
            // the walk's key, no flow index kept. What `take` would do of it, without its call's dozen
            // arguments (about 50 instructions per event; callgrind, `replay --format json` of
            // bench-out/t10.log).
            if let position { walk.lastPosition = position }
            walk.identity = identity
            walk.lastHeaderIndex = index
        } else if identity.exists && (identity.isWeak || ipLog) && walk.hasIdentity {
            take(
                walk.identity.overlaid(with: identity), overlaid: true, ownWeak: identity.isWeak, of: event,
                ipLog: ipLog, key: eventKey, keyKnown: keyKnown, to: walk, index: index, position: position,
                sameEndpoints: sameEndpoints)
        } else if identity.exists {
            take(
                identity, overlaid: false, ownWeak: identity.isWeak, of: event, ipLog: ipLog, key: eventKey,
                keyKnown: keyKnown, to: walk, index: index, position: position, sameEndpoints: sameEndpoints)
        } else if let position {
            walk.lastPosition = position
        }
        if let id = event.traceID { byTraceID[id] = walk }
        walk.lastEventIndex = eventIndex
        walk.lastAdded = added
        walk.lastInSlot = event.inIfaceSlot
        walk.lastOutSlot = event.outIfaceSlot
        walk.trace(event, index: index, ipLog: ipLog)
        if let t = event.time {
            walk.lastTime = t
            if walk.firstTime == nil { walk.firstTime = t }
        }
        // A packet's steps mostly come one after another: the walk's entry at the back moves up instead of
        // another being queued (expiry skips an entry whose walk moved on, so it sees no difference) and
        // expiry reaches fewer entries, each a walk to read that has long left the cache.
        activity.touch(walk, at: eventIndex)
        if event.verdictTag == .drop { walk.dropped = true }
        if event.origin == .kernelTrace, event.kind == .policy, Stitcher.isNat(event.tableSlot, event),
            let hook = position?.hook,
            Netfilter.isFinal(hook)
        {
            // iptables' nat is the last table at INPUT and POSTROUTING: its policy ends the walk.
            walk.complete = true
        }
        // Last, so the event moves into the step instead of being copied (a copy retains every name in it).
        // The step's verdict is the event's: its tag and slot as they are, unless the event has boxed
        // fields (the step's own boxed verdict name is then set as `WalkStep.init(event:hook:...)` does).
        let tag = event.verdictTag
        let slot = event.verdictSlot
        walk.steps.append(WalkStep(event: event, hook: position?.hook, verdictTag: tag, verdictSlot: slot))
        // Asked of the step: asked of the event (to be moved into it), its rare box was copied out for
        // every event, boxed or not (callgrind, `replay --format json` of bench-out/t10.log).
        if !walk.steps[index].event.rare.isEmpty { Stitcher.boxVerdict(of: walk, at: index) }
    }

    /// `append`'s unit when a name of it is boxed: the walk's unit ends where the event's differs (at
    /// the walk's stage), and the event's becomes the walk's.
    @inline(never)
    private static func takeBoxedUnit(_ event: borrowing TraceEvent, to walk: OpenWalk, atStage: Bool) {
        let unit = Stitcher.invocation(event, in: walk)
        if atStage, walk.tracedEnded || walk.currentUnit != unit { walk.finishCurrentUnit() }
        walk.currentUnit = unit
    }

    /// The step's own verdict slot when its event has boxed fields, as `WalkStep.init(event:hook:...)`
    /// sets it (the slot of a plain event is its own verdict's).
    @inline(never)
    private static func boxVerdict(of walk: OpenWalk, at index: Int) {
        let name = walk.steps[index].event.verdict?.name
        walk.steps[index].verdictSlot = walk.steps[index].event.rare.stepSlot(name)
    }

    /// `append`'s part that takes the step's identity (`h`: the event's, or the walk's with the event's
    /// fields put over it when `overlaid`): the header changes it shows, and the walk's identity and
    /// indexes. Apart, so `append` does not copy the identity through its own long body (callgrind,
    /// `replay --format json` of bench-out/t10.log).
    @inline(never)
    private mutating func take(
        _ h: HeaderIdentity, overlaid: Bool, ownWeak: Bool, of event: borrowing TraceEvent, ipLog: Bool,
        key eventKey: WalkIndex.Key, keyKnown: Bool, to walk: OpenWalk, index: Int, position: HookPosition?,
        sameEndpoints: Bool
    ) {
        // `joinCost` already found the addresses unchanged when both identities are full (`overlaid` is
        // false then, unless a LOG line overlaid the walk's).
        if !(sameEndpoints && !overlaid), walk.hasIdentity, let from = walk.lastPosition, let to = position,
            walk.identity.isWeak || !h.sameSource(as: walk.identity) || !h.sameDestination(as: walk.identity)
        {
            let known = walk.identity
            let w = known.isWeak && !h.isWeak ? h.overlaid(with: known) : known
            if !w.sameSource(as: h), let b = w.sourceEndpoint, let a = h.sourceEndpoint {
                walk.changes.append(
                    HeaderChange(field: "src", before: b, after: a, stepIndex: index, from: from, to: to))
            }
            if !w.sameDestination(as: h), let b = w.destinationEndpoint,
                let a = h.destinationEndpoint
            {
                walk.changes.append(
                    HeaderChange(field: "dst", before: b, after: a, stepIndex: index, from: from, to: to))
            }
        }
        if let position { walk.lastPosition = position }
        // The flow key is the last identity's while both show addresses and the same flow.
        let sameFlow = walk.flowIndexed && walk.hasIdentity && walk.identity.sameFlow(as: h)
        walk.identity = h
        // The last full header (a reply's de-NAT is read from it), or the first of any kind.
        if !ownWeak || walk.lastHeaderIndex == nil { walk.lastHeaderIndex = index }
        let isWeak = h.isWeak
        if isWeak != walk.weak {
            weakOpen += isWeak ? 1 : -1
            walk.weak = isWeak
        }
        // A walk a LOG line starts is closed at once: it needs no index.
        if flowIndexing, !sameFlow, !(ipLog && index == 0), let flow = FrameFlow(h, of: event) {
            indexFlow(walk, flow: flow)
        }
        // The event's own key when `addEvent` made it and the identity is the event's.
        let key = isWeak ? WalkIndex.Key.vacant : keyKnown && !overlaid ? eventKey : h.indexKey
        if key != walk.indexKey {
            if !walk.indexKey.isVacant { unindex(walk, key: walk.indexKey) }
            if !key.isVacant { walk.nextWithKey = byKey.push(walk, key) }
            walk.indexKey = key
        }
    }

    /// Tells `visibility` what printed where, once per distinct question: every event asks, and a
    /// repeated question changes nothing there (its sets only grow).
    private mutating func note(_ unit: ChainUnit, at hook: Hook, nat: Bool, legacyTable: Name?) {
        guard let key = NoteKey(unit, hook: hook, nat: nat, legacyTable: legacyTable) else {
            visibility.note(unit, at: hook, nat: nat, legacyTable: legacyTable)
            return
        }
        let slot = key.slot
        if noted[slot] == key { return }
        visibility.note(unit, at: hook, nat: nat, legacyTable: legacyTable)
        noted[slot] = key
    }

    /// Takes `walk` out of the chain of walks with `key`.
    private mutating func unindex(_ walk: OpenWalk, key: WalkIndex.Key) {
        defer { walk.nextWithKey = nil }
        if byKey.replaceFirst(walk, key, with: walk.nextWithKey) { return }
        guard let head = byKey[key] else { return }
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
        // The analyzer reads them all next.
        walk.steps.prefetch()
        walk.closed = true
        if walk.lastEventIndex == quietFront.index { quietFront.index = -1 }
        if walk.packet == front.packet { front.packet = 0 }
        longWalks = walk.steps.count >= 4 ? min(longWalks + 1, 2 * Stitcher.longWalksNeeded) : max(longWalks - 2, 0)
        openWalks -= 1
        if !walk.indexKey.isVacant { unindex(walk, key: walk.indexKey) }
        if let flow = walk.flowKey { unindex(walk, flow: flow) }
        if walk.weak { weakOpen -= 1 }
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
        guard longLivedDue(now: now) else { return }
        front.packet = 0
        while let walk = oldestOpen() {
            let events = eventIndex - walk.firstEventIndex
            let note: String
            if events > limits.lifetimeEvents {
                note =
                    "cut off \(events) events after its first step: one packet's steps lie closer together, so "
                    + "the rest of this walk is not in view"
            } else if let now, let t = walk.firstTime, now - t > limits.lifetimeSeconds {
                note =
                    "cut off \(Stitcher.seconds(now - t)) s after its first step: one packet's steps lie closer "
                    + "together, so the rest of this walk is not in view"
            } else {
                if let t = walk.firstTime { front = (walk.packet, walk.firstEventIndex, t) }
                return
            }
            // A complete walk was only waiting for its frame's bridge steps.
            if !walk.complete { walk.notes.append(note) }
            finish(walk, walk.complete ? .complete : .cutOff)
        }
    }

    /// Whether `expireIdle` may have anything to do: not while the front of `activity` is the entry it
    /// last found live and not idle (`finish` forgets it when it closes its walk) and that entry is still
    /// not idle. Asked for every event without calling it, and without reading the front's walk
    /// (callgrind, `replay --format json` of bench-out/t10.log).
    @inline(__always) private func expiryDue(now: Double?) -> Bool {
        let index = quietFront.index
        guard index >= 0, activity.frontIndex == index, eventIndex - index <= limits.windowEvents else {
            return true
        }
        guard let now, let t = quietFront.lastTime else { return false }
        return now - t > limits.windowSeconds
    }

    /// Whether `cutOffLongLived` has anything to do: asked for every event without calling it.
    @inline(__always) private func longLivedDue(now: Double?) -> Bool {
        if front.packet != 0, eventIndex - front.firstEventIndex <= limits.lifetimeEvents {
            guard let now, now - front.firstTime > limits.lifetimeSeconds else { return false }
        }
        return true
    }

    /// The trace's clock went back by more than the window (a reboot, or rotated logs joined in the
    /// wrong order): no later event belongs to a walk last seen after the new time, so those end here.
    private mutating func cutOffAfterClockWentBack(from before: Double, to now: Double) {
        var walks: [OpenWalk] = []
        for _ in 0..<starts.count {
            guard let walk = starts.popFirst() else { break }
            if walk.closed { continue }
            starts.append(walk)
            if let t = walk.lastTime, t - now > limits.windowSeconds { walks.append(walk) }
        }
        for walk in walks {
            if walk.complete {
                finish(walk, .complete)
                continue
            }
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
        closeCompleted(now: now)
        return takeClosed()
    }

    private mutating func expireIdle(now: Double?) {
        while let (entry, index) = activity.front {
            // Read in place: the queue keeps the walk alive while the entry is there. A live entry is
            // its walk's last touch (`lastEventIndex`).
            let (closed, lastTime) = entry._withUnsafeGuaranteedRef { w in (w.closed, w.lastTime) }
            guard !closed else {
                activity.removeFirst()
                continue
            }
            let idleEvents = eventIndex - index
            var idle = idleEvents > limits.windowEvents
            if !idle, let now, let t = lastTime, now - t > limits.windowSeconds { idle = true }
            guard idle else {
                // It goes idle first, and the one after it next: both are cold by then.
                quietFront = (index, lastTime)
                activity.prefetchFront()
                break
            }
            let walk = entry.takeUnretainedValue()
            activity.removeFirst()
            // The next walk to go idle, while this one closes.
            activity.prefetchFront()
            finish(walk, .expired)
        }
    }
}
