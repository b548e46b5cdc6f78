/// Joins walks of one packet in neighbouring namespaces into journeys, along veth cables and through
/// bridges, the way the packet went: a walk that left namespace A by device X continues in the walk of
/// namespace B that came in by X's peer (or by the bridge the peer is a port of), with the header X
/// sent: the same IP id, length and TTL, and the addresses the NAT of A's walk left.
///
/// Walks wait for a successor in a bounded window, so memory stays bounded on any input.
public struct JourneyLinker {
    public let topology: Topology
    private let annotator: TopologyAnnotator
    /// Namespaces whose walks are seen: a packet that left toward one of them and never showed there vanished.
    public var traced: Set<String> = []
    private var journeys: [Int: Journey] = [:]
    private var nextJourney = 1
    /// Walks that left by a device, waiting for their continuation, by header key.
    private var exits: [ExitKey: [Exit]] = [:]
    private var exitOrder: Deque<ExitKey> = Deque()
    private let window = 1 << 14

    struct ExitKey: Hashable {
        var proto: UInt8?
        var ipID: UInt32?
        var length: UInt32?
        var dport: UInt16?
    }

    struct Exit {
        var journey: Int
        var netns: String
        var device: String
        var header: PacketHeader
        /// The endpoints after the walk's NAT: what the next namespace sees.
        var src: Endpoint?
        var dst: Endpoint?
    }

    public init(topology: Topology) {
        self.topology = topology
        annotator = TopologyAnnotator(topology: topology)
    }

    /// Adds a finished walk (in the order walks come out).
    public mutating func add(_ walk: PacketWalk) {
        guard let netns = annotator.label(walk.netns), topology.namespace(netns) != nil else { return }
        traced.insert(netns)
        let entry = walk.steps.first?.event.inIface
        let entryHeader = walk.steps.lazy.compactMap(\.event.header).first
        var journeyNumber: Int?
        var link: [String] = []
        if let entry, let header = entryHeader, let (found, via) = predecessor(netns: netns, entry: entry, header: header) {
            journeyNumber = found.journey
            link = via
        }
        let leg = Self.leg(walk, netns: netns)
        if let number = journeyNumber, var journey = journeys[number] {
            journey.legs.append(leg)
            journey.links += link
            journeys[number] = journey
        } else {
            let number = nextJourney
            nextJourney += 1
            journeyNumber = number
            journeys[number] = Journey(number: number, legs: [leg], links: [], vanished: [])
        }
        guard let number = journeyNumber else { return }
        journeys[number]?.vanished = walk.vanished
        if let exit = leg.exit, let header = walk.steps.lazy.reversed().compactMap(\.event.header).first {
            remember(Exit(journey: number, netns: netns, device: exit, header: header, walk: walk))
        }
    }

    /// The journeys that crossed namespaces (two walks or more), and those that left toward a traced
    /// namespace and were never seen there; in order. Ends the linking.
    public mutating func finish() -> [Journey] {
        for (_, list) in exits {
            for exit in list { noteUnseenContinuation(exit) }
        }
        exits = [:]
        return journeys.keys.sorted().compactMap { number in
            guard let j = journeys[number], j.legs.count > 1 || !j.vanished.isEmpty && traced.count > 1 else {
                return nil
            }
            return j
        }
    }

    // MARK: - Linking

    static func leg(_ walk: PacketWalk, netns: String) -> Journey.Leg {
        var hooks: [Hook] = []
        for step in walk.steps { if let h = step.hook, hooks.last != h { hooks.append(h) } }
        let post = walk.steps.last { $0.hook == .postrouting }
        let exit = walk.path == .forward || walk.path == .output ? post?.event.outIface : nil
        return Journey.Leg(
            netns: netns, packet: walk.packet, hooks: hooks, nat: walk.nat, entry: walk.steps.first?.event.inIface,
            exit: exit, path: walk.path, verdict: walk.verdict)
    }

    static func key(_ h: PacketHeader) -> ExitKey {
        h.ipID != nil
            ? ExitKey(proto: h.proto, ipID: h.ipID, length: h.length, dport: nil)
            : ExitKey(proto: h.proto, ipID: nil, length: h.length, dport: h.dport)
    }

    private mutating func remember(_ exit: Exit) {
        let k = Self.key(exit.header)
        exits[k, default: []].append(exit)
        exitOrder.append(k)
        while exitOrder.count > window, let old = exitOrder.removeFirst() {
            guard var list = exits[old], !list.isEmpty else { continue }
            noteUnseenContinuation(list.removeFirst())
            exits[old] = list.isEmpty ? nil : list
        }
    }

    /// The waiting exit this walk continues, and the link text; the exit is used up.
    private mutating func predecessor(netns: String, entry: String, header: PacketHeader) -> (Exit, [String])? {
        let k = Self.key(header)
        guard var list = exits[k] else { return nil }
        for i in list.indices.reversed() {
            let exit = list[i]
            guard exit.netns != netns, Self.sameHeader(exit, header),
                let via = reach(from: exit, to: netns, entry: entry)
            else { continue }
            list.remove(at: i)
            exits[k] = list.isEmpty ? nil : list
            return (exit, [via])
        }
        return nil
    }

    /// Whether `header` (as the next namespace saw it) is what `exit` sent.
    static func sameHeader(_ exit: Exit, _ h: PacketHeader) -> Bool {
        let e = exit.header
        if let a = e.ttl, let b = h.ttl, a != b { return false }
        if let a = e.tcpSeq, let b = h.tcpSeq, a != b { return false }
        if let dst = exit.dst, let got = h.dst, dst.address != got || (dst.port != nil && dst.port != h.dport) {
            return false
        }
        // The source may have been masqueraded to an address the walk could not know.
        if let src = exit.src, let got = h.src, src.address != got || (src.port != nil && src.port != h.sport) {
            return false
        }
        return true
    }

    /// `a:x ⇢ b:y` when `exit`'s device is cabled to `entry` in `netns`, directly or through a bridge.
    func reach(from exit: Exit, to netns: String, entry: String) -> String? {
        guard let peer = topology.peer(netns: exit.netns, ifname: exit.device) else { return nil }
        let from = "\(exit.netns):\(exit.device)"
        if peer.netns == netns {
            let master = topology.link(netns: netns, ifname: peer.ifname)?.master
            if peer.ifname == entry || master == entry { return "\(from) ⇢ \(peer.netns):\(peer.ifname)" }
            return nil
        }
        // Through a bridge in a namespace between (not traced, or br_netfilter off there).
        guard let bridge = topology.link(netns: peer.netns, ifname: peer.ifname)?.master,
            let ports = topology.link(netns: peer.netns, ifname: bridge)?.ports
        else { return nil }
        for port in ports where port != peer.ifname {
            guard let next = topology.peer(netns: peer.netns, ifname: port), next.netns == netns else { continue }
            let master = topology.link(netns: netns, ifname: next.ifname)?.master
            if next.ifname == entry || master == entry {
                return "\(from) ⇢ \(peer.netns):\(peer.ifname) ⇝ \(bridge) ⇝ \(port) ⇢ \(netns):\(next.ifname)"
            }
        }
        return nil
    }

    /// A packet that left toward a traced namespace and was never seen there.
    private mutating func noteUnseenContinuation(_ exit: Exit) {
        guard var journey = journeys[exit.journey], journey.vanished.isEmpty,
            let peer = topology.peer(netns: exit.netns, ifname: exit.device), traced.contains(peer.netns)
        else { return }
        let bridge = topology.link(netns: peer.netns, ifname: peer.ifname)?.master
        let bnf = topology.sysctl(netns: peer.netns, key: "net.bridge.bridge-nf-call-iptables")
        if let bridge, bnf != "1" {
            journey.vanished = [
                Vanished(
                    cause: .brNetfilterOff, netns: peer.netns,
                    detail: "the frame entered bridge \(bridge) in \(peer.netns) by \(peer.ifname), where "
                        + "bridge-nf-call-iptables=\(bnf ?? "absent (br_netfilter not loaded)"): iptables never saw it, "
                        + "so its trace rules could not either",
                    fix: "ip netns exec \(peer.netns) sysctl -w net.bridge.bridge-nf-call-iptables=1", guess: true)
            ]
        } else {
            journey.vanished = [
                Vanished(
                    cause: .unknown, netns: peer.netns,
                    detail: "the packet left \(exit.netns) by \(exit.device) toward \(peer.netns):\(peer.ifname), "
                        + "and no trace there shows it", guess: true)
            ]
        }
        journeys[exit.journey] = journey
    }
}

extension JourneyLinker.Exit {
    init(journey: Int, netns: String, device: String, header: PacketHeader, walk: PacketWalk) {
        self.journey = journey
        self.netns = netns
        self.device = device
        self.header = header
        var src = header.src.map { Endpoint(address: $0, port: header.sport) }
        var dst = header.dst.map { Endpoint(address: $0, port: header.dport) }
        for nat in walk.nat where nat.direction == "original" {
            let after = nat.after.flatMap { Endpoint($0) }
            if nat.field == "src" {
                // MASQUERADE to an address nobody knows: any source will do.
                src = after
            } else if let after {
                dst = after
            }
        }
        self.src = src
        self.dst = dst
    }
}
