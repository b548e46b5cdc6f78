/// What happens to walks after correlation when a topology is known: each is annotated (devices and
/// their roles, why it vanished) and joined with its neighbours into journeys. Replay and live tracing
/// both run their walks through it.
public final class TopologyStage {
    public let topology: Topology?
    public let annotator: TopologyAnnotator
    private var linker: JourneyLinker?

    public init(topology: Topology?) {
        self.topology = topology
        annotator = TopologyAnnotator(topology: topology)
        linker = topology.map(JourneyLinker.init(topology:))
    }

    /// The walk with its topology annotations; it also waits for its continuation in a neighbour namespace.
    public func process(_ walk: PacketWalk) -> PacketWalk {
        var walk = walk
        annotator.annotate(&walk)
        linker?.add(walk)
        return walk
    }

    /// The journeys across namespaces, at the end.
    public func finish() -> [Journey] {
        guard var linker else { return [] }
        defer { self.linker = nil }
        return linker.finish()
    }

    /// The rules a namespace's steps refer to: `base` (a user's `--ruleset`, a live snapshot) or else the
    /// rulesets the topology recorded for it, with MASQUERADE's address taken from the topology.
    public func lookup(base: RuleLookup?, netns: String?) -> RuleLookup? {
        guard let topology, let label = annotator.label(netns), let ns = topology.namespace(label) else { return base }
        var lookup = base
        if lookup == nil, !ns.rulesets.isEmpty {
            var merged = Ruleset()
            for r in ns.rulesets {
                if let parsed = try? RulesetParser.parse(r.text, sourceName: "\(label) \(r.backend)") {
                    merged.merge(parsed)
                }
            }
            lookup = merged
        }
        return TopologyRuleLookup(base: lookup, topology: topology, netns: label)
    }
}
