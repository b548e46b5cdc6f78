import DequeModule

/// Correlates events of several network namespaces: a walk is one packet in one namespace, so each
/// namespace has its own `Correlator`, and their walks come out through one `emit` with `netns` set and
/// packet numbers that are unique across namespaces (renumbered in the order walks come out, with
/// `reply_to` and `connection` following them). With one namespace the numbers stay as they are.
public struct NamespacedCorrelator {
    private var lanes: [String?: Lane] = [:]
    private var order: [String?] = []
    private let lookup: (String?) -> RuleLookup?
    private let options: Correlator.Options
    private let emit: (consuming PacketWalk) -> Void
    private let numbers = Renumbering()
    /// Step arrays of written walks, shared by the lanes (one thread runs them all): hand a walk's back
    /// with `spares.recycle` once it is written (`WalkPrinter.spares`).
    public let spares = SpareSteps()
    /// Events added, over all namespaces.
    private var events = 0
    /// The counters of lanes already dropped (see `maxLanes`).
    private var retired = Correlator.Stats()

    /// One correlator with its namespace's own packet numbers.
    ///
    /// Its fields skip Swift's dynamic exclusivity checks (two calls into the runtime for every event):
    /// a lane is used from one thread, one access at a time.
    private final class Lane {
        /// Its walks' numbers are renumbered under this id (a dropped namespace's next lane has a new one).
        let id: Int
        @exclusivity(unchecked) var correlator: Correlator?
        /// `events` when this namespace's last event came.
        @exclusivity(unchecked) var lastEvent = 0
        init(id: Int) { self.id = id }
    }
    private var lanesMade = 0

    /// `lookup` gives each namespace its ruleset (nil: none).
    public init(
        lookup: @escaping (String?) -> RuleLookup? = { _ in nil }, options: Correlator.Options = .init(),
        emit: @escaping (consuming PacketWalk) -> Void
    ) {
        self.lookup = lookup
        self.options = options
        self.emit = emit
    }

    /// Adds an event of namespace `netns` (nil: the namespace is not known, as in a plain kernel log).
    public mutating func add(_ event: consuming TraceEvent, netns: String?) {
        events += 1
        if activeLane == nil || activeNetns != netns { activate(netns) }
        activeLastEvent = events
        active?.add(event, index: events)
        if events % 256 == 0 { expireQuietLanes() }
    }

    /// Lanes kept at most. Past this the namespace whose last event is oldest is finished (its walks
    /// are emitted) and its lane dropped; a later event of it starts a new one. A trace names a few
    /// namespaces; input with many names (garbled saved events, scripts/bench-replay.sh's mutated
    /// lines) would otherwise keep a correlator for each.
    static let maxLanes = 64

    /// A namespace's walks expire when its own next event comes; one that falls silent has them
    /// expired here, at the index the other namespaces' events reached.
    private mutating func expireQuietLanes() {
        for netns in order {
            // The active lane had this event.
            guard let lane = lanes[netns], lane !== activeLane, lane.lastEvent < events else { continue }
            lane.correlator?.expire(index: events)
        }
    }

    private mutating func retireOldestLane() {
        guard let oldest = order.min(by: { (lanes[$0]?.lastEvent ?? 0) < (lanes[$1]?.lastEvent ?? 0) }),
            var correlator = lanes.removeValue(forKey: oldest)?.correlator
        else { return }
        correlator.finish()
        retired.events += correlator.stats.events
        retired.walks += correlator.stats.walks
        retired.incomplete += correlator.stats.incomplete
        order.removeAll { $0 == oldest }
    }

    /// The lane of the last event, with its correlator moved out of it into `active` while its events
    /// come: events of one namespace come in runs, and a hash of the name per event would cost more
    /// than the comparison (live flood benchmark, scripts/bench-live.sh). Called through the lane
    /// object, each event retained and released it and its name (4.4 M instructions of callgrind's
    /// count on bench-out/t10.log's 35,728 events).
    private var active: Correlator?
    private var activeLane: Lane?
    private var activeNetns: String?
    /// `events` at the active lane's last event (its lane's `lastEvent` once parked).
    private var activeLastEvent = 0

    /// Makes `netns`'s lane the active one.
    private mutating func activate(_ netns: String?) {
        park()
        let lane = existingOrNewLane(netns)
        active = lane.correlator.take()
        activeLane = lane
        activeNetns = netns
    }

    /// Puts the active correlator back in its lane, so every lane holds its own.
    private mutating func park() {
        guard let lane = activeLane else { return }
        lane.correlator = active.take()
        lane.lastEvent = activeLastEvent
        activeLane = nil
        activeNetns = nil
    }

    private mutating func existingOrNewLane(_ netns: String?) -> Lane {
        if let lane = lanes[netns] { return lane }
        if lanes.count >= NamespacedCorrelator.maxLanes { retireOldestLane() }
        lanesMade += 1
        let lane = Lane(id: lanesMade)
        let id = lane.id
        let numbers = numbers
        let emit = emit
        lane.correlator = Correlator(lookup: lookup(netns), options: options, spares: spares) {
            (walk: consuming PacketWalk) in
            if let netns { walk.netns = netns }
            numbers.renumber(&walk, lane: id)
            emit(walk)
        }
        lanes[netns] = lane
        order.append(netns)
        if order.count > 1 { numbers.active = true }
        return lane
    }

    /// Closes walks idle at wall-clock time `now` in every namespace (live tracing).
    public mutating func tick(now: Double) {
        park()
        for netns in order { lanes[netns]?.correlator?.tick(now: now) }
    }

    /// Closes every open walk in every namespace.
    public mutating func finish() {
        park()
        for netns in order { lanes[netns]?.correlator?.finish() }
    }

    /// The counters summed over the namespaces.
    public var stats: Correlator.Stats {
        var total = retired
        for lane in lanes.values {
            guard let s = lane === activeLane ? active?.stats : lane.correlator?.stats else { continue }
            total.events += s.events
            total.walks += s.walks
            total.incomplete += s.incomplete
        }
        return total
    }

    /// The namespaces with a lane, in the order their first event came.
    public var namespaces: [String?] { order }
}

/// Packet numbers unique across namespaces: each namespace's walk numbers map to global ones as walks
/// come out. A reply or later packet refers to a walk that started (and so came out) before it.
private final class Renumbering {
    /// Off while only one namespace has been seen: its numbers are the global ones.
    var active = false
    private var next = 1
    private var map: [Key: Int] = [:]
    private var recent: Deque<Key> = Deque()
    /// How many numbers are remembered for `reply_to`/`connection` (memory stays bounded).
    private let remember = 1 << 16

    /// A lane's number for its namespace, not the name: a smaller key, and no string to hash or keep.
    private struct Key: Hashable {
        var lane: Int
        var packet: Int
    }

    func renumber(_ walk: inout PacketWalk, lane: Int) {
        guard active else {
            // One namespace so far: its numbers are the global ones, and nothing needs remembering.
            next = max(next, walk.packet + 1)
            return
        }
        let key = Key(lane: lane, packet: walk.packet)
        let global = next
        next += 1
        map[key] = global
        recent.append(key)
        if recent.count > remember, let old = recent.popFirst() { map[old] = nil }
        walk.packet = global
        walk.replyTo = walk.replyTo.map { map[Key(lane: lane, packet: $0)] ?? $0 }
        walk.connection = walk.connection.map { map[Key(lane: lane, packet: $0)] ?? $0 }
    }
}
