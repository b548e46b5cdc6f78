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
        // answered here (callgrind, scripts/icount.sh on scripts/bench-replay.sh's 10 MB head).
        guard topology != nil || walk.path == .incomplete || walk.verdict == .drop else { return }
        let netns = label(walk.netns)
        if let topology, let netns, topology.namespace(netns) != nil {
            walk.interfaces.append(contentsOf: devices(of: walk, netns, topology))
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

    /// The devices the walk's steps name, each once, in the order they first appear.
    ///
    /// Steps are read in place and devices compared as names (ids), each known device's words looked up
    /// once per walk: iterating copies of the steps, a `String` per field and a list of four per step
    /// were 9% of live nft tracing's CPU (perf, scripts/bench-live.sh).
    private func devices(of walk: borrowing PacketWalk, _ netns: String, _ topology: Topology) -> [WalkInterface] {
        // A walk's devices are few: a short list beats a set.
        var seen: [Name] = []
        var found: [WalkInterface] = []
        let table = cache.devices(in: netns)
        func add(_ name: Name?) {
            guard let name, !seen.contains(name) else { return }
            seen.append(name)
            if let device = table.device(name, netns, topology) { found.append(device) }
        }
        walk.steps.withUnsafeBufferPointer { steps in
            for i in steps.indices {
                let step = steps.address(i)
                add(step.pointee.event.inIfaceName)
                add(step.pointee.event.physInName)
                add(step.pointee.event.outIfaceName)
                add(step.pointee.event.physOutName)
            }
        }
        return found
    }

    /// A walk that went on, but toward trouble the topology shows: a MASQUERADE with no address to take,
    /// or a veth whose peer is in the same namespace. Decided per device once (live tracing sees
    /// thousands of walks a second).
    func mayHaveLostItsWay(_ walk: PacketWalk, _ netns: String?) -> Bool {
        guard let topology, let netns, walk.path == .output || walk.path == .forward else { return false }
        if walk.nat.contains(where: { $0.type == .masquerade && $0.after == nil && $0.direction == "original" }) {
            return true
        }
        // The last step's device, read in place (`last(where:)` hands each step over as a copy).
        let out: Name? = walk.steps.withUnsafeBufferPointer { steps in
            for i in steps.indices.reversed() {
                if let name = steps[i].event.outIfaceName { return name }
            }
            return nil
        }
        guard let out else { return false }
        return cache.devices(in: netns).loopsBack(out, netns, topology)
    }

    private let cache = Cache()

    /// Per device: its words for the timeline, and whether its veth peer is in its own namespace.
    private final class Cache: @unchecked Sendable {
        private var namespaces: [String: NamespaceFacts] = [:]
        private let limit = 4096

        /// The devices of one namespace by name, so a lookup hashes an id rather than two strings.
        final class Devices: @unchecked Sendable {
            private var known: [Name: WalkInterface?] = [:]
            private let limit: Int

            init(limit: Int) { self.limit = limit }

            func device(_ name: Name, _ netns: String, _ topology: Topology) -> WalkInterface? {
                if let known = known[name] { return known }
                let ifname = name.string
                let made = topology.role(netns: netns, ifname: ifname).map {
                    WalkInterface(name: ifname, role: $0, addresses: topology.addresses(netns: netns, ifname: ifname))
                }
                // A replay names devices from its input: bounded, so a hostile file cannot grow it.
                if known.count < limit { known[name] = made }
                return made
            }

            private var loops: [Name: Bool] = [:]

            /// Whether the device is a veth whose peer is in its own namespace.
            func loopsBack(_ name: Name, _ netns: String, _ topology: Topology) -> Bool {
                if let known = loops[name] { return known }
                let loopsBack = topology.peer(netns: netns, ifname: name.string)?.netns == netns
                if loops.count < limit { loops[name] = loopsBack }
                return loopsBack
            }
        }
        private var byNamespace: [String: Devices] = [:]
        private var lastNamespace: (String, Devices)?

        /// Namespaces whose devices are kept, each up to `limit / namespacesKept` of them, so all the
        /// caches together hold about `limit` devices whatever a replayed file names.
        private static let namespacesKept = 16

        /// The namespace's devices; the last one asked is kept at hand (a trace is mostly of one).
        func devices(in netns: String) -> Devices {
            if let (name, devices) = lastNamespace, name == netns { return devices }
            let devices = byNamespace[netns] ?? Devices(limit: limit / Cache.namespacesKept)
            if byNamespace.count < Cache.namespacesKept { byNamespace[netns] = devices }
            lastNamespace = (netns, devices)
            return devices
        }

        private var lastFacts: (String, NamespaceFacts)?

        func facts(_ netns: String, _ topology: Topology) -> NamespaceFacts? {
            // Every walk asks: the last namespace's answer is kept at hand, as in `devices(in:)`.
            if let (name, facts) = lastFacts, name == netns { return facts }
            let facts: NamespaceFacts
            if let known = namespaces[netns] {
                facts = known
            } else {
                guard let ns = topology.namespace(netns) else { return nil }
                facts = NamespaceFacts(ns)
                namespaces[netns] = facts
            }
            lastFacts = (netns, facts)
            return facts
        }
    }
}
