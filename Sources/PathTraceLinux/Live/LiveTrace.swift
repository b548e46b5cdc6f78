#if os(Linux)
import Foundation
import PathTraceCore

/// Live tracing: a collector and tagged rules in each traced namespace, one correlating loop, every
/// rule removed and sysctl restored on every way out (return, throw, SIGINT, SIGTERM, SIGHUP).
///
/// Collectors start before the rules go in, so the first packet is seen. Their events meet in one
/// queue; the loop sleeps on it and routes each event to its namespace's correlator (a walk is one
/// packet in one namespace), hands finished walks the filter selects to the consumer, and stops after
/// `count` walks, `duration`, `stop()` or a signal.
public final class LiveTrace: @unchecked Sendable {
    /// One namespace to trace, with the backend and families chosen for it.
    public struct Target: Sendable {
        public var namespace: TraceNamespace
        public var choice: BackendChoice
        /// This namespace's own filter (a lab traces each namespace for its own flows); nil: the trace's.
        public var filter: WalkFilter?
        /// The walks shown: those any of these selects; empty: those `filter` selects.
        public var shown: [WalkFilter]

        public var backend: TraceBackend { choice.backend }

        public init(
            namespace: TraceNamespace, choice: BackendChoice, filter: WalkFilter? = nil, shown: [WalkFilter] = []
        ) {
            self.namespace = namespace
            self.choice = choice
            self.filter = filter
            self.shown = shown
        }

        /// Reads the namespace's legacy listings and chooses (`requested` nil is `auto`); the choice's
        /// `messages` say what was chosen and what the trace will leave.
        public static func deciding(
            _ namespace: TraceNamespace, requested: TraceBackend?, filter: WalkFilter, shown: [WalkFilter] = []
        ) -> Target {
            Target(
                namespace: namespace,
                choice: BackendChoice.decide(requested: requested, filter: filter, namespace: namespace),
                filter: filter, shown: shown)
        }
    }

    public struct Configuration: Sendable {
        public var targets: [Target]
        public var filter: WalkFilter
        public var rate: TraceRate
        /// Stop after this many walks shown.
        public var count: Int?
        /// Stop after this many seconds.
        public var duration: Double?
        /// Where session records go (crash recovery); nil keeps them in memory only.
        public var recordSessions = true
        /// Takes a topology snapshot of the traced namespaces at the start, so walks name their devices,
        /// say why they vanished and join into journeys across namespaces.
        public var probeTopology = true
        /// Keeps each event's packet bytes as the kernel handed them over (`TraceEvent.packetBytes`, for
        /// `--pcap`); off, the collectors decode the bytes and let them go.
        public var keepPacketBytes = false

        public init(
            targets: [Target], filter: WalkFilter, rate: TraceRate = .default, count: Int? = nil,
            duration: Double? = nil
        ) {
            self.targets = targets
            self.filter = filter
            self.rate = rate
            self.count = count
            self.duration = duration
        }
    }

    public let configuration: Configuration
    /// Progress for the user (one line each, no prefix): what was chosen, installed, removed.
    public var onMessage: @Sendable (String) -> Void = { _ in }
    /// Called on its own thread once every rule is in and every collector listens (a lab sends its
    /// traffic then; it may call `stop()`).
    public var onReady: (@Sendable (LiveTrace) -> Void)?
    /// Each path across the traced namespaces, once it has ended (on the calling thread of `run`).
    public var onJourney: (Journey) -> Void = { _ in }
    /// Every event as it arrives, with its rule's text when the ruleset knows it (for `--save`).
    public var onEvent: ((TraceEvent) -> Void)?

    private let queue = EventQueue()
    /// The nflog backend's group (legacy TRACE always logs to group 0).
    static let nflogGroup: UInt16 = 7

    public init(_ configuration: Configuration) {
        self.configuration = configuration
    }

    /// Ends the trace soon: the loop wakes, the rules are removed, `run` returns.
    public func stop() { queue.stop() }

    /// Traces until a stop condition, giving each shown walk to `onWalk` (on the calling thread).
    public func run(onWalk: @escaping (PacketWalk) -> Void) throws -> LiveSummary {
        let lanes = configuration.targets.map { Lane(target: $0, recordSessions: configuration.recordSessions) }
        let removals = RemovalsBox()
        // Created before anything is installed, on the calling (main) thread: see TeardownGuard.
        let guardian = TeardownGuard(afterSignal: { [queue] _ in queue.stop() }) {
            removals.value = lanes.map { $0.installer.removeAll() }
        }
        defer {
            guardian.run()
            guardian.disarm()
        }
        for (index, lane) in lanes.enumerated() {
            try lane.start(lane: index, queue: queue, keepPacketBytes: configuration.keepPacketBytes)
        }
        defer { for lane in lanes { lane.stopCollectors() } }
        for lane in lanes {
            try lane.install(configuration)
            onMessage(
                "tracing in \(lane.where_) with \(lane.target.backend.rawValue), \(lane.ruleCount) rule(s), "
                    + "rate \(configuration.rate); Ctrl-C stops")
        }

        snapshot = topology(lanes)
        let stage = TopologyStage(topology: snapshot, unnamed: unnamedLabel)
        var shown = 0
        let filter = configuration.filter
        let count = configuration.count
        let onMessage = onMessage
        // A few lanes: a scan comparing names beats hashing one per walk (scripts/bench-live.sh).
        func lane(_ netns: String?) -> Lane? { lanes.first { $0.name == netns } }
        var correlator = NamespacedCorrelator(lookup: { stage.lookup(base: lane($0)?.lookup, netns: $0) }) {
            [queue] walk in
            // Replies are traced too (their de-NAT is the evidence for MASQUERADE), and shown.
            let walk = stage.process(walk)
            defer { stage.deliverJourneys() }
            let mine = lane(walk.netns)
            func selects(_ f: WalkFilter) -> Bool { f.matches(walk) || f.reversed.matches(walk) }
            let selected =
                mine.map {
                    $0.target.shown.isEmpty
                        ? selects($0.target.filter ?? filter) : $0.target.shown.contains(where: selects)
                }
                ?? false
            // DNAT/REDIRECT seen in a walk: its replies come from the translated end; they are traced too.
            let follower = mine?.follower
            guard
                selected || follower?.isFollowedReply(walk) == true || follower?.isFollowedDownstream(walk) == true
            else { return }
            if let line = follower?.observe(walk) { onMessage(line) }
            // The namespaces behind a DNAT to another port see the translated flow, which the user's filter
            // no longer matches: they trace it on.
            if lanes.count > 1, let source = NatReplySource(walk: walk), let mine {
                for other in lanes where other !== mine {
                    if let line = other.follower?.followDownstream(source, from: mine.where_) {
                        onMessage("\(other.where_): \(line)")
                    }
                }
            }
            if let count, shown >= count { return }
            shown += 1
            onWalk(walk)
            if let count, shown >= count { queue.stop() }
        }
        stage.tracing(lanes.map(\.name))
        stage.onJourney = onJourney
        if let onReady { Thread.detachNewThread { onReady(self) } }
        loop(lanes, &correlator)
        guardian.run()
        for lane in lanes { lane.stopCollectors() }
        for item in queue.drain() { deliver(item.event, to: lanes[item.lane], &correlator) }
        for lane in lanes where lane.order != nil {
            for event in lane.order?.flush() ?? [] { pass(event, of: lane, &correlator) }
        }
        correlator.finish()
        stage.finish()
        var summary = LiveSummary(
            lanes: lanes, stats: stage.counted(correlator.stats), shown: shown, removals: removals.value ?? [])
        summary.journeys = stage.journeys
        return summary
    }

    /// The topology's label of the current namespace, when it is traced (its walks name no namespace).
    private var unnamedLabel: String?
    /// The topology snapshot taken at the start (`--save` it beside the events to replay them alike).
    public private(set) var snapshot: Topology?

    /// A snapshot of the traced namespaces, or nil when it cannot be taken (tracing goes on without it).
    private func topology(_ lanes: [Lane]) -> Topology? {
        guard configuration.probeTopology else { return nil }
        do {
            let namespaces = lanes.map(\.target.namespace)
            if namespaces.contains(.current) { unnamedLabel = try ProbeTarget.resolve(.current).label }
            // The named namespaces too, so a cable's far end has a name (`bond0: veth ⇄ ptlv-wan:eth0`).
            let asked = try namespaces.map(ProbeTarget.resolve)
            var targets = asked
            for named in ProbeTarget.allNamed() where !targets.contains(where: { $0.inode == named.inode }) {
                targets.append(named)
            }
            return try TopologyProbe().snapshot(
                targets: targets, followPeers: false, required: Set(asked.map(\.inode)))
        } catch {
            onMessage("no topology snapshot (\(error)): walks will not name their devices")
            return nil
        }
    }

    private func loop(_ lanes: [Lane], _ correlator: inout NamespacedCorrelator) {
        let started = Date()
        // Idle walks are closed and printed on this beat even when no event arrives.
        let beat = 0.05
        while !queue.isStopped {
            var deadline = Date(timeIntervalSinceNow: beat)
            if let duration = configuration.duration {
                let end = started.addingTimeInterval(duration)
                if end <= Date() { break }
                deadline = min(deadline, end)
            }
            for item in queue.wait(until: deadline) { deliver(item.event, to: lanes[item.lane], &correlator) }
            let now = Date().timeIntervalSince1970
            for lane in lanes where lane.order != nil {
                for event in lane.order?.release(now: now) ?? [] { pass(event, of: lane, &correlator) }
            }
            correlator.tick(now: now)
            if let failed = lanes.first(where: { $0.failure != nil }), let failure = failed.failure {
                onMessage("the collector in \(failed.where_) stopped: \(failure)")
                break
            }
        }
    }

    private func deliver(_ event: TraceEvent, to lane: Lane, _ correlator: inout NamespacedCorrelator) {
        guard lane.order != nil else { return pass(event, of: lane, &correlator) }
        // mixed: held until the packet's steps from both collectors are in, then given out in walk order.
        let now = Date().timeIntervalSince1970
        for e in lane.order?.add(event, now: now, lookup: lane.lookup) ?? [] { pass(e, of: lane, &correlator) }
    }

    /// To `--save` and the correlator, in walk order (a saved mixed trace replays alike).
    private func pass(_ event: TraceEvent, of lane: Lane, _ correlator: inout NamespacedCorrelator) {
        if let onEvent { onEvent(lane.saved(event)) }
        correlator.add(event, netns: lane.name)
    }
}

/// The teardown's reports, written on the teardown queue.
private final class RemovalsBox: @unchecked Sendable {
    var value: [RemovalReport]?
}
#endif
