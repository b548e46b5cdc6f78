/// Names why a walk stopped short from its last steps and its namespace's topology, most likely first,
/// each with the fact that shows it and the command that would change it (as nettrace's diagnosis does).
///
/// The kernel gives some of these no trace of their own: a packet to another host in a namespace with
/// forwarding off, a martian source, a strict rp_filter miss and a missing route all end in the routing
/// decision after PREROUTING, without a drop reason a TRACE rule could print. So a walk that ends after
/// PREROUTING, not dropped by a rule, is checked against the sysctls and routes in that order.
public enum VanishedDiagnosis {
    /// `facts`: the namespace's (worked out here when not given).
    public static func causes(of walk: PacketWalk, netns: String?, topology: Topology?, facts: NamespaceFacts? = nil)
        -> [Vanished]
    {
        var found: [Vanished] = []
        if walk.verdict == .drop, let drop = dropStep(walk) {
            found.append(ruleDrop(drop, walk: walk, netns: netns, topology: topology))
        }
        if let netns, let topology, let ns = topology.namespace(netns) {
            let facts = facts ?? NamespaceFacts(ns)
            found += masquerade(walk, netns: netns, topology: topology)
            found += loopedVeth(walk, netns: netns, topology: topology, facts: facts)
            if walk.verdict != .drop, endsAfterPrerouting(walk) {
                found += routingDecision(walk, netns: netns, topology: topology, facts: facts)
            }
        }
        return found
    }

    /// Where a walk that ends after PREROUTING went when nothing at the later hooks of its namespace is
    /// traced (no chain loaded there, pathtrace's own table aside): the trace ends where it can see, not
    /// where the packet did. Nil when the walk did not end so, or a sysctl or route explains the end.
    public static func silentCompletion(
        of walk: PacketWalk, netns: String, topology: Topology, facts: NamespaceFacts? = nil
    ) -> PathClass? {
        guard walk.path == .incomplete, walk.verdict != .drop, endsAfterPrerouting(walk),
            let ns = topology.namespace(netns), let header = lastHeader(walk), let dst = header.dst
        else { return nil }
        let facts = facts ?? NamespaceFacts(ns)
        let first = walk.steps.first?.event
        let local = facts.local.contains(dst)
        let path: PathClass
        if let bridge = first?.inIface.flatMap({ ns.link($0) }), bridge.kind == "bridge",
            Self.bridged(to: header.macDst, bridge: bridge, physIn: first?.physIn, local: local)
        {
            path = .bridged
        } else if local {
            path = .input
        } else {
            path = .forward
        }
        let later: Set<Hook> = path == .input ? [.input] : [.forward, .postrouting]
        guard later.isDisjoint(with: facts.hooksWithChains) else { return nil }
        if path != .bridged,
            routingDecision(walk, netns: netns, topology: topology, facts: facts).contains(where: {
                $0.cause != .unknown
            })
        {
            return nil
        }
        return path
    }

    /// Whether a frame that came in on `bridge` is bridged on rather than handed up to IP: br_netfilter
    /// runs the IP hooks for both, and only the destination MAC (the bridge's own, or another) tells them
    /// apart; without it, a bridge port (PHYSIN) and a destination that is not here say bridged.
    static func bridged(to macDst: String?, bridge: TopologyLink, physIn: String?, local: Bool) -> Bool {
        if let macDst, let own = bridge.mac { return macDst.lowercased() != own.lowercased() }
        return physIn != nil && !local
    }

    /// The step that dropped the packet: the last one with a drop verdict (printed or inferred).
    static func dropStep(_ walk: PacketWalk) -> WalkStep? {
        walk.steps.last { step in
            if case .drop = step.verdict { return true }
            return false
        } ?? walk.steps.last
    }

    static func ruleDrop(_ step: WalkStep, walk: PacketWalk, netns: String?, topology: Topology?) -> Vanished {
        let e = step.event
        let place = "\(e.table):\(e.chain)"
        var v: Vanished
        if e.kind == .policy {
            v = Vanished(
                cause: .policyDrop, netns: netns, detail: "\(place) policy DROP",
                fix: e.origin == .nftMonitor || e.rule.map({ if case .handle = $0 { true } else { false } }) == true
                    ? "nft chain … \(e.chain) '{ policy accept; }', or add an accept rule for this flow"
                    : "\(iptables(walk.family)) -t \(e.table) -I \(e.chain) … -j ACCEPT before the policy applies",
                guess: step.verdictInferred)
        } else {
            let ref = e.rule.map { " \($0)" } ?? ""
            let text = e.ruleText.map { ": \($0)" } ?? ""
            var fix: String?
            if case .number(let n)? = e.rule { fix = "\(iptables(walk.family)) -t \(e.table) -D \(e.chain) \(n)" }
            if case .handle(let h)? = e.rule { fix = "nft delete rule … \(e.table) \(e.chain) handle \(h)" }
            v = Vanished(
                cause: .ruleDrop, netns: netns, detail: "dropped by \(place)\(ref)\(text)", fix: fix,
                guess: step.verdictInferred)
        }
        // A frame bridged between two ports of one bridge passes iptables' FORWARD only through
        // br_netfilter; without `-i br0 -o br0 -j ACCEPT` a DROP policy or rule stops it there.
        if step.hook == .forward, let i = e.inIface, i == e.outIface, e.physIn != nil || isBridge(i, netns, topology) {
            let bnf = netns.flatMap { topology?.sysctl(netns: $0, key: "net.bridge.bridge-nf-call-iptables") }
            v.detail +=
                "; a frame bridged on \(i) (port \(e.physIn ?? "?") → \(e.physOut ?? "?")) is filtered by "
                + "iptables FORWARD because bridge-nf-call-iptables=\(bnf ?? "1")"
            v.fix = "\(iptables(walk.family)) -I FORWARD -i \(i) -o \(i) -j ACCEPT"
        }
        return v
    }

    static func isBridge(_ ifname: String, _ netns: String?, _ topology: Topology?) -> Bool {
        guard let netns, let link = topology?.link(netns: netns, ifname: ifname) else { return false }
        return link.kind == "bridge"
    }

    /// The walk's last hook was PREROUTING (no INPUT, FORWARD or POSTROUTING followed).
    static func endsAfterPrerouting(_ walk: PacketWalk) -> Bool {
        guard let last = walk.steps.last?.hook else { return false }
        return last == .prerouting && walk.steps.allSatisfy { $0.hook == .prerouting || $0.hook == nil }
    }

    /// What the routing decision after PREROUTING would do with the packet, from sysctls and routes.
    static func routingDecision(_ walk: PacketWalk, netns: String, topology: Topology, facts: NamespaceFacts)
        -> [Vanished]
    {
        guard let header = lastHeader(walk), let src = header.src, let dst = header.dst else { return [] }
        let inIface = walk.steps.lazy.compactMap(\.event.inIface).first
        let v6 = dst.isV6
        let prefix = exec(netns, topology)
        let local = facts.local
        var found: [Vanished] = []
        if !v6, let inIface, inIface != "lo", local.contains(src) {
            let acceptLocal = topology.sysctl(netns: netns, key: "net.ipv4.conf.\(inIface).accept_local") ?? "0"
            if acceptLocal == "0" {
                found.append(
                    Vanished(
                        cause: .martianSource, netns: netns,
                        detail: "source \(src) is an address of \(netns) itself, arriving on \(inIface) with "
                            + "accept_local=0: the kernel drops it as a martian source",
                        fix: "\(prefix)sysctl -w net.ipv4.conf.\(inIface).accept_local=1 (and rp_filter 0 or 2 on it)"))
            }
        }
        if !local.contains(dst) {
            let key = v6 ? "net.ipv6.conf.all.forwarding" : "net.ipv4.ip_forward"
            let global = topology.sysctl(netns: netns, key: key)
            let perIface = inIface.flatMap {
                topology.sysctl(
                    netns: netns, key: v6 ? "net.ipv6.conf.\($0).forwarding" : "net.ipv4.conf.\($0).forwarding")
            }
            if global == "0" || perIface == "0" {
                var fact = "\(key)=\(global ?? "?")"
                if let inIface, let perIface { fact += " (\(inIface) forwarding=\(perIface))" }
                found.append(
                    Vanished(
                        cause: .ipForward, netns: netns,
                        detail: "\(fact) in \(netns): a packet to \(dst), not an address here, is dropped after "
                            + "PREROUTING without a drop reason or ICMP",
                        fix: "\(prefix)sysctl -w \(key)=1"))
            }
            if topology.route(netns: netns, to: dst) == nil {
                found.append(
                    Vanished(
                        cause: .noRoute, netns: netns, detail: "no route to \(dst) in \(netns)",
                        fix: "\(prefix)ip route add \(dst) via <gateway>"))
            }
        }
        if !v6, let inIface {
            let all = Int(topology.sysctl(netns: netns, key: "net.ipv4.conf.all.rp_filter") ?? "") ?? 0
            let dev = Int(topology.sysctl(netns: netns, key: "net.ipv4.conf.\(inIface).rp_filter") ?? "") ?? 0
            let mode = max(all, dev)
            let back = topology.route(netns: netns, to: src)
            if mode == 1, let back, let out = back.dev, out != inIface {
                found.append(
                    Vanished(
                        cause: .rpFilter, netns: netns,
                        detail: "rp_filter=1 (strict) on \(inIface), and the route back to \(src) leaves via \(out)",
                        fix: "\(prefix)sysctl -w net.ipv4.conf.\(inIface).rp_filter=2"))
            } else if mode >= 1, back == nil {
                found.append(
                    Vanished(
                        cause: .rpFilter, netns: netns,
                        detail: "rp_filter=\(mode) on \(inIface), and there is no route back to \(src)",
                        fix: "\(prefix)sysctl -w net.ipv4.conf.\(inIface).rp_filter=0"))
            }
        }
        if found.isEmpty {
            found.append(
                Vanished(
                    cause: .unknown, netns: netns,
                    detail: "the walk ends after PREROUTING, no rule dropped it: the routing decision did "
                        + "(see \(prefix)ip route get \(dst) from \(src)\(inIface.map { " iif \($0)" } ?? ""))",
                    guess: true))
        }
        return found
    }

    /// A packet sent out a veth whose peer is in the same namespace comes back in with a source address of
    /// that namespace: without accept_local on the peer the kernel drops it, and its ARP request before it,
    /// as a martian source (seed 003).
    static func loopedVeth(_ walk: PacketWalk, netns: String, topology: Topology, facts: NamespaceFacts)
        -> [Vanished]
    {
        guard walk.path == .output || walk.path == .forward,
            let out = walk.steps.lazy.reversed().compactMap(\.event.outIface).first,
            let peer = topology.peer(netns: netns, ifname: out), peer.netns == netns,
            let src = lastHeader(walk)?.src, !src.isV6, facts.local.contains(src)
        else { return [] }
        let acceptLocal = topology.sysctl(netns: netns, key: "net.ipv4.conf.\(peer.ifname).accept_local") ?? "0"
        guard acceptLocal == "0" else { return [] }
        return [
            Vanished(
                cause: .martianSource, netns: netns,
                detail: "\(out)'s peer \(peer.ifname) is in \(netns) too: the packet (and the ARP request before it) "
                    + "arrives there from \(src), an address of \(netns), and accept_local=0 on \(peer.ifname) drops it "
                    + "as a martian source",
                fix:
                    "\(exec(netns, topology))sysctl -w net.ipv4.conf.\(peer.ifname).accept_local=1 (and rp_filter 0 or 2 on it)"
            )
        ]
    }

    /// A MASQUERADE whose out device has no address of the packet's family cannot pick a source.
    static func masquerade(_ walk: PacketWalk, netns: String, topology: Topology) -> [Vanished] {
        // An address MASQUERADE could take gives the rewrite an `after` (from the topology or the reply).
        guard walk.nat.contains(where: { $0.type == .masquerade && $0.direction == "original" && $0.after == nil }),
            let out = walk.steps.last(where: { $0.hook == .postrouting })?.event.outIface,
            let v6 = lastHeader(walk)?.dst?.isV6
        else { return [] }
        let addresses = topology.addresses(netns: netns, ifname: out).compactMap { IPNetwork($0)?.address }
        guard !addresses.contains(where: { $0.isV6 == v6 && !$0.isLinkLocal }) else { return [] }
        return [
            Vanished(
                cause: .masqueradeNoAddress, netns: netns,
                detail:
                    "MASQUERADE out \(out), which has no \(v6 ? "IPv6" : "IPv4") address: the kernel drops the packet",
                fix: "\(exec(netns, topology))ip addr add <address>/<prefix> dev \(out)")
        ]
    }

    static func lastHeader(_ walk: PacketWalk) -> PacketHeader? {
        walk.steps.lazy.reversed().compactMap(\.event.header).first
    }

    static func iptables(_ family: Family) -> String { family == .ipv6 ? "ip6tables" : "iptables" }

    /// `ip netns exec NAME ` for a named namespace; nothing for the initial one.
    static func exec(_ netns: String, _ topology: Topology) -> String {
        guard let ns = topology.namespace(netns) else { return "" }
        if ns.initial { return "" }
        if let pid = ns.pid { return "nsenter -t \(pid) -n " }
        return "ip netns exec \(netns) "
    }
}
