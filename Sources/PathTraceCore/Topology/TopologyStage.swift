/// What happens to walks after correlation when a topology is known: each is annotated (devices and
/// their roles, why it vanished) and joined with its neighbours into journeys. Replay and live tracing
/// both run their walks through it.
public final class TopologyStage {
    public let topology: Topology?
    public let annotator: TopologyAnnotator
    private var linker: JourneyLinker?

    /// `unnamed`: the topology's label for walks that name no namespace (see `TopologyAnnotator`).
    public init(topology: Topology?, unnamed: String? = nil) {
        self.topology = topology
        annotator = TopologyAnnotator(topology: topology, unnamed: unnamed)
        linker = topology.map { JourneyLinker(topology: $0, annotator: annotator) }
    }

    /// Each journey across namespaces, as soon as it has ended.
    public var onJourney: (Journey) -> Void = { _ in }
    public private(set) var journeys = 0
    /// Walks the correlator called incomplete that the topology completed (silent after PREROUTING only
    /// because no chain is loaded further on).
    public private(set) var completed = 0

    /// The correlator's counters as the user sees the walks: those the topology completed are complete.
    public func counted(_ stats: Correlator.Stats) -> Correlator.Stats {
        var stats = stats
        stats.incomplete -= completed
        return stats
    }

    /// Namespaces being traced: a packet that left toward one of them and was never seen there vanished.
    public func tracing(_ netns: [String?]) {
        for ns in netns { if let label = annotator.label(ns) { linker?.traced.insert(label) } }
        // One namespace has no neighbours to join: the linker would only spend time on every walk.
        if netns.count < 2 { linker = nil }
    }

    /// The walk with its topology annotations; it also waits for its continuation in a neighbour namespace.
    public func process(_ walk: PacketWalk) -> PacketWalk {
        var walk = walk
        process(&walk)
        return walk
    }

    /// Annotates the walk where it is (returning it would copy it: every array of it retained).
    public func process(_ walk: inout PacketWalk) {
        // Without a topology there is no linker, and the annotator looks only at a walk that stopped
        // short (see `TopologyAnnotator.annotate`): most walks of a replay are answered here, without the
        // call (callgrind, scripts/icount.sh on bench-out/t10.log).
        if topology == nil && walk.path != .incomplete && walk.verdict != .drop { return }
        let wasIncomplete = walk.path == .incomplete
        annotator.annotate(&walk)
        if wasIncomplete && walk.path != .incomplete { completed += 1 }
        linker?.add(walk)
    }

    /// Ends the journeys still waiting for a continuation and hands them out.
    public func finish() {
        linker?.finish()
        deliverJourneys()
    }

    /// Hands out the journeys that ended (call after the walk `process` returned has been shown).
    public func deliverJourneys() {
        guard let ended = linker?.take(), !ended.isEmpty else { return }
        for journey in ended {
            journeys += 1
            onJourney(journey)
        }
    }

    /// The rules a namespace's steps refer to: `base` (a user's `--ruleset`, a live snapshot) or else the
    /// rulesets the topology recorded for it, with MASQUERADE's address taken from the topology.
    public func lookup(base: RuleLookup?, netns: String?) -> RuleLookup? {
        guard let topology, let label = annotator.label(netns), let ns = topology.namespace(label) else { return base }
        let recorded = base == nil ? Ruleset.parsingApart(ns.rulesets.map { ($0.text, "\(label) \($0.backend)") }) : nil
        return TopologyRuleLookup(base: base ?? recorded, topology: topology, netns: label)
    }
}
