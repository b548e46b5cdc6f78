import DequeModule

/// Joins walks of one packet in neighbouring namespaces into journeys, along veth cables and through
/// bridges, the way the packet went: a walk that left namespace A by device X continues in the walk of
/// namespace B that came in by X's peer (or by the bridge the peer is a port of), with the header X
/// sent: the same IP id, length and TTL, and the addresses the NAT of A's walk left.
///
/// Each namespace's walks come out of their own correlator, so a packet's walk in B may come out
/// before its walk in A: a walk links to one already seen in either direction. A journey is handed out
/// (`take`) once every walk in it is older than the window, or at `finish`; memory stays bounded.
public struct JourneyLinker {
    public let topology: Topology
    private let annotator: TopologyAnnotator
    /// Namespaces whose walks are seen: a packet that left toward one of them and never showed there vanished.
    public var traced: Set<String> = []
    /// Walks of the window, by arrival number.
    private var nodes: [Int: Node] = [:]
    private var arrivals: Deque<Int> = Deque()
    private var nextArrival = 0
    /// Walks that left by a device and have no successor yet, by the header they sent.
    private var exits: [HeaderKey: [Int]] = [:]
    /// Walks that came in by a device and have no predecessor yet, by the header they came with.
    private var entries: [HeaderKey: [Int]] = [:]
    private var ready: [Journey] = []
    /// The NAT a connection's first packet set up, by its walk: later packets of the connection are
    /// translated by conntrack the same way, though no nat chain shows it in their walks.
    private var connectionNat: [Opener: [NatRewrite]] = [:]
    private var openers: Deque<Opener> = Deque()

    struct Opener: Hashable {
        var netns: String
        var packet: Int
    }
    private var nextJourney = 1
    /// Walks kept for linking; a packet's walks in neighbouring namespaces come out well within it.
    public var window = 4096

    struct HeaderKey: Hashable {
        var proto: UInt8?
        var ipID: UInt32?
        var length: UInt32?
        var dport: UInt16?

        init(_ h: PacketHeader) {
            proto = h.proto
            length = h.length
            if h.ipID != nil { ipID = h.ipID } else { dport = h.dport }
        }
    }

    struct Node {
        var leg: Journey.Leg
        var vanished: [Vanished]
        /// The header it came in with, and the one it sent out with the endpoints its NAT left.
        var entryHeader: PacketHeader?
        var exitHeader: PacketHeader?
        var exitSrc: Endpoint?
        var exitDst: Endpoint?
        /// A bridged frame whose out port the trace did not show: the bridge it crossed, to follow through
        /// any of its ports.
        var viaBridge: String?
        var pred: Int?
        var succ: Int?
        /// The link text from the predecessor to this walk.
        var linkIn: String?
    }

    public init(topology: Topology, annotator: TopologyAnnotator? = nil) {
        self.topology = topology
        self.annotator = annotator ?? TopologyAnnotator(topology: topology)
    }

    /// Adds a finished walk.
    public mutating func add(_ walk: PacketWalk) {
        guard let netns = annotator.label(walk.netns), topology.namespace(netns) != nil else { return }
        traced.insert(netns)
        let id = nextArrival
        nextArrival += 1
        var node = Node(leg: Self.leg(walk, netns: netns), vanished: walk.vanished)
        node.entryHeader = node.leg.entry == nil ? nil : walk.steps.lazy.compactMap(\.event.header).first
        if walk.path == .bridged, node.leg.exit == nil { node.viaBridge = node.leg.entry }
        if walk.nat.contains(where: { $0.direction == "original" && $0.afterEndpoint != nil }) {
            let opener = Opener(netns: netns, packet: walk.packet)
            connectionNat[opener] = walk.nat
            openers.append(opener)
            if openers.count > window * 4, let old = openers.popFirst() { connectionNat[old] = nil }
        }
        if node.leg.exit != nil || node.viaBridge != nil,
            let last = walk.steps.lazy.reversed().compactMap(\.event.header).first
        {
            node.exitHeader = last
            var nat = walk.nat
            if let first = walk.connection, walk.replyTo == nil,
                let opened = connectionNat[Opener(netns: netns, packet: first)]
            {
                nat += opened
            }
            (node.exitSrc, node.exitDst) = Self.afterNat(last, nat)
        }
        nodes[id] = node
        arrivals.append(id)
        if let header = node.entryHeader { link(id, header, asSuccessor: true) }
        if let header = node.exitHeader, nodes[id]?.succ == nil { link(id, header, asSuccessor: false) }
        if nodes[id]?.pred == nil, let header = node.entryHeader { entries[HeaderKey(header), default: []].append(id) }
        if nodes[id]?.succ == nil, let header = node.exitHeader { exits[HeaderKey(header), default: []].append(id) }
        while arrivals.count > window, let old = arrivals.popFirst() { retire(old) }
    }

    /// The journeys that ended since the last call: those that crossed namespaces (two walks or more),
    /// and those that left toward a traced namespace and were never seen there.
    public mutating func take() -> [Journey] {
        defer { ready.removeAll() }
        return ready
    }

    /// Ends every journey; `take` then returns the rest.
    public mutating func finish() {
        while let old = arrivals.popFirst() { retire(old) }
    }

    // MARK: - Linking

    /// Links walk `id` to a waiting walk of another namespace: the one whose exit it came in by
    /// (`asSuccessor`), or the one that came in by its exit. The most recent candidate wins.
    private mutating func link(_ id: Int, _ header: PacketHeader, asSuccessor: Bool) {
        let key = HeaderKey(header)
        guard let me = nodes[id], var list = asSuccessor ? exits[key] : entries[key] else { return }
        for (i, other) in list.enumerated().reversed() {
            guard let them = nodes[other], them.leg.netns != me.leg.netns else { continue }
            let (prevID, nextID) = asSuccessor ? (other, id) : (id, other)
            let (prev, next) = asSuccessor ? (them, me) : (me, them)
            guard prev.succ == nil, next.pred == nil, let entry = next.leg.entry, let got = next.entryHeader,
                Self.sameHeader(prev, got), let via = reach(from: prev, to: next.leg.netns, entry: entry)
            else { continue }
            list.remove(at: i)
            if asSuccessor { exits[key] = list.isEmpty ? nil : list } else { entries[key] = list.isEmpty ? nil : list }
            nodes[prevID]?.succ = nextID
            nodes[nextID]?.pred = prevID
            nodes[nextID]?.linkIn = via
            return
        }
    }

    /// Takes a walk out of the window; its journey ends when none of its walks is left in the window.
    private mutating func retire(_ id: Int) {
        guard nodes[id] != nil else { return }
        var head = id
        while let p = nodes[head]?.pred, nodes[p] != nil { head = p }
        var chain: [Int] = []
        var cursor: Int? = head
        while let c = cursor, nodes[c] != nil {
            chain.append(c)
            cursor = nodes[c]?.succ
        }
        // Walks of the chain still in the window keep it open: the oldest arrival goes first.
        guard chain.allSatisfy({ $0 <= id }) else { return }
        var journey = Journey(number: 0, legs: [], links: [], vanished: [])
        for c in chain {
            guard let node = nodes.removeValue(forKey: c) else { continue }
            journey.legs.append(node.leg)
            if let link = node.linkIn { journey.links.append(link) }
            journey.vanished = node.vanished
            unindex(c, node)
        }
        if journey.vanished.isEmpty, let tail = journey.legs.last, let exit = tail.exit {
            journey.vanished = unseenContinuation(tail.netns, exit)
        }
        if journey.legs.count > 1 || journey.vanished.contains(where: { $0.netns != journey.legs.last?.netns }) {
            journey.number = nextJourney
            nextJourney += 1
            ready.append(journey)
        }
    }

    private mutating func unindex(_ id: Int, _ node: Node) {
        if let h = node.entryHeader {
            let k = HeaderKey(h)
            entries[k]?.removeAll { $0 == id }
            if entries[k]?.isEmpty == true { entries[k] = nil }
        }
        if let h = node.exitHeader {
            let k = HeaderKey(h)
            exits[k]?.removeAll { $0 == id }
            if exits[k]?.isEmpty == true { exits[k] = nil }
        }
    }

    static func leg(_ walk: PacketWalk, netns: String) -> Journey.Leg {
        var hooks: [Hook] = []
        for step in walk.steps { if let h = step.hook, hooks.last != h { hooks.append(h) } }
        // The routing decision names the out device at FORWARD or OUTPUT already: a walk whose later
        // chains print nothing (nat sees a connection's first packet only) still left by it.
        let routed = walk.path == .forward || walk.path == .output
        var exit = routed ? walk.steps.lazy.reversed().compactMap(\.event.outIface).first : nil
        if walk.path == .bridged { exit = walk.steps.lazy.reversed().compactMap(\.event.physOut).first }
        return Journey.Leg(
            netns: netns, packet: walk.packet, hooks: hooks, nat: walk.nat, entry: walk.steps.first?.event.inIface,
            exit: exit, path: walk.path, verdict: walk.verdict)
    }

    /// Whether `endpoint` is a rewrite's `before`: the same address and port, or the same address when
    /// `before` has no port.
    private static func matches(_ endpoint: Endpoint?, _ before: Endpoint) -> Bool {
        guard let endpoint else { return false }
        return endpoint == before || (before.port == nil && endpoint.address == before.address)
    }

    /// The endpoints a walk's packet left with: its last header with the walk's source and destination
    /// NAT applied (a MASQUERADE to an address nobody knows leaves the source open).
    static func afterNat(_ header: PacketHeader, _ nat: [NatRewrite]) -> (Endpoint?, Endpoint?) {
        var src = header.src.map { Endpoint(address: $0, port: header.sport) }
        var dst = header.dst.map { Endpoint(address: $0, port: header.dport) }
        for n in nat where n.direction == "original" {
            let after = n.afterEndpoint
            if n.field == "src", matches(src, n.beforeEndpoint) {
                src = after
            } else if n.field == "dst", let after, matches(dst, n.beforeEndpoint) {
                dst = after
            }
        }
        return (src, dst)
    }

    /// Whether `h` (as the next namespace saw it) is what `prev` sent.
    static func sameHeader(_ prev: Node, _ h: PacketHeader) -> Bool {
        guard let e = prev.exitHeader else { return false }
        if let a = e.ttl, let b = h.ttl, a != b { return false }
        if let a = e.tcpSeq, let b = h.tcpSeq, a != b { return false }
        if let dst = prev.exitDst, let got = h.dst, dst.address != got || (dst.port != nil && dst.port != h.dport) {
            return false
        }
        if let src = prev.exitSrc, let got = h.src, src.address != got || (src.port != nil && src.port != h.sport) {
            return false
        }
        return true
    }

    /// `a:x ⇢ b:y` when `prev`'s exit device is cabled to `entry` in `netns`: directly, out a bridge's
    /// port (an exit that is a bridge, or a frame bridged without a shown out port), or through a bridge
    /// in a namespace between.
    func reach(from prev: Node, to netns: String, entry: String) -> String? {
        let here = prev.leg.netns
        func ports(_ bridge: String) -> [String] { topology.link(netns: here, ifname: bridge)?.ports ?? [] }
        var outs: [(device: String, text: String)] = []
        if let exit = prev.leg.exit {
            outs =
                topology.link(netns: here, ifname: exit)?.kind == "bridge"
                ? ports(exit).map { ($0, "\(here):\(exit) ⇝ \($0)") } : [(exit, "\(here):\(exit)")]
        } else if let bridge = prev.viaBridge {
            outs = ports(bridge).map { ($0, "\(here):\(bridge) ⇝ \($0)") }
        }
        for (device, from) in outs {
            guard let peer = topology.peer(netns: here, ifname: device) else { continue }
            if peer.netns == netns {
                let master = topology.link(netns: netns, ifname: peer.ifname)?.master
                if peer.ifname == entry || master == entry { return "\(from) ⇢ \(peer.netns):\(peer.ifname)" }
                continue
            }
            // Through a bridge in a namespace between, when no walk there can show the frame: not traced,
            // or its bridged frames never reach the IP hooks (br_netfilter off).
            let seen = topology.sysctl(netns: peer.netns, key: "net.bridge.bridge-nf-call-iptables") == "1"
            if traced.contains(peer.netns) && seen { continue }
            guard let bridge = topology.link(netns: peer.netns, ifname: peer.ifname)?.master,
                let between = topology.link(netns: peer.netns, ifname: bridge)?.ports
            else { continue }
            for port in between where port != peer.ifname {
                guard let next = topology.peer(netns: peer.netns, ifname: port), next.netns == netns else { continue }
                let master = topology.link(netns: netns, ifname: next.ifname)?.master
                if next.ifname == entry || master == entry {
                    return "\(from) ⇢ \(peer.netns):\(peer.ifname) ⇝ \(bridge) ⇝ \(port) ⇢ \(netns):\(next.ifname)"
                }
            }
        }
        return nil
    }

    /// A packet that left toward a traced namespace and was never seen there.
    func unseenContinuation(_ netns: String, _ device: String) -> [Vanished] {
        guard let peer = topology.peer(netns: netns, ifname: device), traced.contains(peer.netns) else { return [] }
        let bridge = topology.link(netns: peer.netns, ifname: peer.ifname)?.master
        let bnf = topology.sysctl(netns: peer.netns, key: "net.bridge.bridge-nf-call-iptables")
        if let bridge, bnf != "1" {
            return [
                Vanished(
                    cause: .brNetfilterOff, netns: peer.netns,
                    detail: "the frame entered bridge \(bridge) in \(peer.netns) by \(peer.ifname), where "
                        + "bridge-nf-call-iptables=\(bnf ?? "absent (br_netfilter not loaded)"): iptables never saw "
                        + "it, so its trace rules could not either",
                    fix: "ip netns exec \(peer.netns) sysctl -w net.bridge.bridge-nf-call-iptables=1", guess: true)
            ]
        }
        return [
            Vanished(
                cause: .unknown, netns: peer.netns,
                detail: "the packet left \(netns) by \(device) toward \(peer.netns):\(peer.ifname), and no trace "
                    + "there shows it", guess: true)
        ]
    }
}
