/// Puts a finished walk beside the wiring: each device it used with its role, and why it vanished.
public struct TopologyAnnotator: Sendable {
    public let topology: Topology?
    /// The label of the namespace a walk without `netns` was traced in (live tracing in the current one).
    public let unnamed: String?

    public init(topology: Topology?, unnamed: String? = nil) {
        self.topology = topology
        self.unnamed = unnamed
    }

    /// The topology's label for a walk's namespace: the same name, the process's namespace for `pid:N`,
    /// or the only namespace of the snapshot when the walk names none (a replay of one namespace's log).
    public func label(_ netns: String?) -> String? {
        guard let topology else { return netns }
        guard let netns else { return unnamed ?? (topology.namespaces.count == 1 ? topology.namespaces[0].name : nil) }
        if topology.namespace(netns) != nil { return netns }
        if netns.hasPrefix("pid:"), let pid = Int(netns.dropFirst(4)) {
            return topology.namespaces.first { $0.pid == pid }?.name
        }
        return netns
    }

    public func annotate(_ walk: inout PacketWalk) {
        // Without a topology only a walk that stopped short is diagnosed (see the end): most walks are
        // answered here (callgrind, /tmp/icount.sh on scripts/bench-replay.sh's 10 MB head).
        guard topology != nil || walk.path == .incomplete || walk.verdict == .drop else { return }
        let netns = label(walk.netns)
        if let topology, let netns, topology.namespace(netns) != nil {
            // A walk's devices are few: a short list beats a set, and each device's words are made once.
            var seen: [String] = []
            for step in walk.steps {
                for name in [step.event.inIface, step.event.physIn, step.event.outIface, step.event.physOut] {
                    guard let name, !seen.contains(name) else { continue }
                    seen.append(name)
                    if let device = cache.device(netns, name, topology) { walk.interfaces.append(device) }
                }
            }
        }
        if let topology, let netns,
            let path = VanishedDiagnosis.silentCompletion(
                of: walk, netns: netns, topology: topology, facts: cache.facts(netns, topology))
        {
            walk.path = path
            walk.verdict = .accept
            let went = path == .bridged ? "bridged" : path == .input ? "to this host" : "forwarded"
            // The analyzer's "where the packet went next is not in the trace" is answered by this note.
            walk.notes.removeAll { $0.hasPrefix("the walk ends after ") }
            walk.notes.append(
                "no chain is loaded at the later hooks in \(netns): the trace ends after PREROUTING, the packet "
                    + "went on (\(went), from the topology)")
            return
        }
        if walk.path == .incomplete || walk.verdict == .drop || mayHaveLostItsWay(walk, netns) {
            walk.vanished = VanishedDiagnosis.causes(
                of: walk, netns: netns ?? walk.netns, topology: topology,
                facts: topology.flatMap { t in netns.flatMap { cache.facts($0, t) } })
        }
    }

    /// A walk that went on, but toward trouble the topology shows: a MASQUERADE with no address to take,
    /// or a veth whose peer is in the same namespace. Decided per device once (live tracing sees
    /// thousands of walks a second).
    func mayHaveLostItsWay(_ walk: PacketWalk, _ netns: String?) -> Bool {
        guard let topology, let netns, walk.path == .output || walk.path == .forward else { return false }
        if walk.nat.contains(where: { $0.type == .masquerade && $0.after == nil && $0.direction == "original" }) {
            return true
        }
        guard let out = walk.steps.last(where: { $0.event.outIface != nil })?.event.outIface else { return false }
        return cache.loopsBack(netns, out, topology)
    }

    private let cache = Cache()

    /// Per device: its words for the timeline, and whether its veth peer is in its own namespace.
    private final class Cache: @unchecked Sendable {
        struct Key: Hashable {
            var netns: String
            var ifname: String
        }
        private var devices: [Key: WalkInterface?] = [:]
        private var loops: [Key: Bool] = [:]
        private var namespaces: [String: NamespaceFacts] = [:]
        private let limit = 4096

        func device(_ netns: String, _ ifname: String, _ topology: Topology) -> WalkInterface? {
            let key = Key(netns: netns, ifname: ifname)
            if let known = devices[key] { return known }
            let made = topology.role(netns: netns, ifname: ifname).map {
                WalkInterface(name: ifname, role: $0, addresses: topology.addresses(netns: netns, ifname: ifname))
            }
            // A replay names devices from its input: bounded, so a hostile file cannot grow it.
            if devices.count < limit { devices[key] = made }
            return made
        }

        func facts(_ netns: String, _ topology: Topology) -> NamespaceFacts? {
            if let known = namespaces[netns] { return known }
            guard let ns = topology.namespace(netns) else { return nil }
            let facts = NamespaceFacts(ns)
            namespaces[netns] = facts
            return facts
        }

        func loopsBack(_ netns: String, _ ifname: String, _ topology: Topology) -> Bool {
            let key = Key(netns: netns, ifname: ifname)
            if let known = loops[key] { return known }
            let loops = topology.peer(netns: netns, ifname: ifname)?.netns == netns
            if self.loops.count < limit { self.loops[key] = loops }
            return loops
        }
    }
}
