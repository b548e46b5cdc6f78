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
        let netns = label(walk.netns)
        if let topology, let netns, topology.namespace(netns) != nil {
            var seen = Set<String>()
            for step in walk.steps {
                for name in [step.event.inIface, step.event.physIn, step.event.outIface, step.event.physOut] {
                    guard let name, seen.insert(name).inserted,
                        let role = topology.role(netns: netns, ifname: name)
                    else { continue }
                    walk.interfaces.append(
                        WalkInterface(
                            name: name, role: role, addresses: topology.addresses(netns: netns, ifname: name)))
                }
            }
        }
        if let topology, let netns,
            let path = VanishedDiagnosis.silentCompletion(of: walk, netns: netns, topology: topology)
        {
            walk.path = path
            walk.verdict = .accept
            let went = path == .bridged ? "bridged" : path == .input ? "to this host" : "forwarded"
            walk.notes.append(
                "no chain is loaded at the later hooks in \(netns): the trace ends after PREROUTING, the packet "
                    + "went on (\(went), from the topology)")
            return
        }
        if walk.path == .incomplete || walk.verdict == .drop || !walk.nat.isEmpty || walk.path == .output {
            walk.vanished = VanishedDiagnosis.causes(of: walk, netns: netns ?? walk.netns, topology: topology)
        }
    }
}
