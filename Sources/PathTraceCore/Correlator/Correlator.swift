/// Streams trace events into finished packet walks: the one entry point replay and live tracing share.
///
/// Feed events in the order they were recorded; walks come out through `emit` in the order they
/// started, each once it is complete or its window has passed. Memory is bounded by the windows.
public struct Correlator {
    /// Counters for the final summary.
    public struct Stats: Sendable, Equatable {
        public var events = 0
        public var walks = 0
        public var incomplete = 0
    }

    public struct Options: Sendable {
        /// Events after which an idle walk is closed.
        public var windowEvents = 4096
        /// Seconds of trace time after which an idle walk is closed.
        public var windowSeconds = 2.0
        public init() {}
    }

    private var stitcher: Stitcher
    /// A `let`: called on a `var`, it was copied for every walk (its lookup retained and released).
    private let analyzer: WalkAnalyzer
    private var linker: ReplyLinker
    private var eventIndex = 0
    private var lastTime: Double?
    public private(set) var stats = Stats()

    /// `spares`: where step arrays of written walks come back to (see `SpareSteps`).
    public init(
        lookup: RuleLookup? = nil, options: Options = Options(), spares: SpareSteps = SpareSteps(),
        emit: @escaping (consuming PacketWalk) -> Void
    ) {
        let lookup = lookup ?? TextRuleLookup()
        self.lookup = lookup
        let visibility = Visibility()
        let memo = LookupMemo(lookup)
        analyzer = WalkAnalyzer(lookup: lookup, visibility: visibility, memo: memo, spares: spares)
        linker = ReplyLinker(release: emit)
        linker.holdEvents = options.windowEvents
        linker.maxHeld = options.windowEvents
        var limits = Stitcher.Limits()
        limits.windowEvents = options.windowEvents
        limits.windowSeconds = options.windowSeconds
        limits.lifetimeEvents = 2 * options.windowEvents
        limits.lifetimeSeconds = 2 * options.windowSeconds
        stitcher = Stitcher(
            limits: limits, visibility: visibility, spares: spares,
            isNat: { memo.isNat($0) },
            basePosition: { memo.basePosition($0) })
        self.memo = memo
    }

    private let lookup: RuleLookup
    private let memo: LookupMemo
    /// The walks the current event closed (its storage kept from event to event).
    private var closing: [Stitcher.Closed] = []

    /// Adds the next event. `index` is its number in a stream this correlator sees only part of (the
    /// events of all namespaces, `NamespacedCorrelator`): the windows then count every event of the
    /// stream, so a namespace whose events are rare keeps its walks no longer than a busy one.
    /// Without it, the events this correlator saw are counted.
    /// The event is consumed: it moves into its walk's step (a copy would retain every name in it).
    public mutating func add(_ event: consuming TraceEvent, index: Int? = nil) {
        eventIndex = max(index ?? 0, eventIndex + 1)
        guard event.hook == nil, event.origin != .kernelTrace, let declared = memo.basePosition(event) else {
            // Passed on as it came: setting the hook on this path too made every event a copy of its
            // own first (a memcpy per event; callgrind, `replay --format json` of bench-out/t10.log).
            record(event)
            return
        }
        var declaredEvent = event
        declaredEvent.hook = declared.hook
        record(declaredEvent)
    }

    private mutating func record(_ event: consuming TraceEvent) {
        stats.events += 1
        if let t = event.time { lastTime = t }
        stitcher.add(event, index: eventIndex, closing: &closing)
        if closing.count == 1 {
            // The usual case, moved out: `removeAll(keepingCapacity:)` costs a `replaceSubrange` per
            // event that closes a walk (callgrind, scripts/icount.sh: 1.5 M on the 10 MB head).
            analyze(closing.removeLast())
        } else if !closing.isEmpty {
            for i in closing.indices { analyze(closing[i]) }
            closing.removeAll(keepingCapacity: true)
        }
        linker.flush(eventIndex: eventIndex)
    }

    /// Closes the walks idle for the window, or past their lifetime, once the stream reached event
    /// `index` without an event of this correlator's (see `add`), and releases what is ready.
    public mutating func expire(index: Int) {
        guard index > eventIndex else { return }
        eventIndex = index
        analyze(stitcher.expire(index: index))
        linker.flush(eventIndex: eventIndex)
    }

    /// Live tracing: closes walks idle for the window at wall-clock time `now` and releases what is ready,
    /// so a walk prints although no later event arrives.
    public mutating func tick(now: Double) {
        analyze(stitcher.expire(now: now))
        linker.flush(eventIndex: eventIndex, now: now)
    }

    /// Closes every open walk and releases all (end of input, or the end of a live session).
    public mutating func finish() {
        analyze(stitcher.finishAll(lastTime: lastTime))
        linker.flush(eventIndex: eventIndex, force: true)
    }

    private mutating func analyze(_ closed: [Stitcher.Closed]) {
        for item in closed { analyze(item) }
    }

    private mutating func analyze(_ item: Stitcher.Closed) {
        // Held there next, after the analysis.
        linker.prefetchSlot(packet: item.walk.packet)
        let lastHeaderIndex = item.walk.lastHeaderIndex
        var made: PacketWalk? = PacketWalk(packet: 0, family: .ipv4)
        analyzer.analyze(item.walk, reason: item.reason, into: &made)
        item.walk.release()
        // The walk is bound out of the consumed optional, so it moves into the linker: a plain local
        // passed on was copied and then destroyed, every array of it retained and released, and an
        // optional taken out of (`take()`) was destroyed empty by a generic call (callgrind,
        // scripts/icount.sh on bench-out/t10.log).
        guard case .some(let walk) = consume made else { return }
        stats.walks += 1
        if walk.path == .incomplete { stats.incomplete += 1 }
        linker.add(walk, lastHeaderIndex: lastHeaderIndex, eventIndex: eventIndex)
    }
}
