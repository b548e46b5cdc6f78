/// Compares a lab file with the topology probed from the lab's namespaces: what the lab builds (veth
/// pairs and their peers' namespaces, bridges and ports, addresses, routes, sysctls, rulesets) must be
/// there. Extra devices, addresses or routes the kernel adds (loopback, link-local, connected routes)
/// are not differences.
public enum LabTopologyCheck {
    /// Every way the topology differs from the lab, one line each; empty when it matches.
    public static func differences(_ spec: LabSpec, _ topology: Topology) -> [String] {
        var out: [String] = []
        for logical in spec.namespaces where topology.namespace(spec.netns(logical)) == nil {
            out.append("namespace \(spec.netns(logical)) missing")
        }
        func device(_ ns: String, _ dev: String) -> TopologyLink? {
            guard topology.namespace(spec.netns(ns)) != nil else { return nil }
            guard let link = topology.link(netns: spec.netns(ns), ifname: dev) else {
                out.append("\(spec.netns(ns)):\(dev) missing")
                return nil
            }
            return link
        }
        for veth in spec.veths {
            for (end, other) in [(veth.a, veth.b), (veth.b, veth.a)] {
                guard let link = device(end.ns, end.dev) else { continue }
                let here = "\(spec.netns(end.ns)):\(end.dev)"
                if link.kind != "veth" { out.append("\(here) is \(link.kind), not veth") }
                let want = "\(spec.netns(other.ns)):\(other.dev)"
                if let peer = topology.peer(netns: spec.netns(end.ns), ifname: end.dev) {
                    if peer.netns != spec.netns(other.ns) || peer.ifname != other.dev {
                        out.append("\(here) peer is \(peer.netns):\(peer.ifname), not \(want)")
                    }
                } else {
                    out.append("\(here) peer unresolved (want \(want))")
                }
                if let mac = end.mac, link.mac?.lowercased() != mac.lowercased() {
                    out.append("\(here) mac \(link.mac ?? "none"), not \(mac)")
                }
            }
        }
        for bridge in spec.bridges {
            guard let link = device(bridge.ns, bridge.name) else { continue }
            let here = "\(spec.netns(bridge.ns)):\(bridge.name)"
            if link.kind != "bridge" { out.append("\(here) is \(link.kind), not bridge") }
            let ports = Set(link.ports ?? [])
            for port in bridge.ports where !ports.contains(port) { out.append("\(here) lacks port \(port)") }
            for port in bridge.ports {
                if let p = topology.link(netns: spec.netns(bridge.ns), ifname: port), p.master != bridge.name {
                    out.append("\(spec.netns(bridge.ns)):\(port) master is \(p.master ?? "none"), not \(bridge.name)")
                }
            }
        }
        for address in spec.addresses {
            guard let link = device(address.ns, address.dev) else { continue }
            let want = normalized(address.cidr)
            if !link.addresses.map(normalized).contains(want) {
                out.append("\(spec.netns(address.ns)):\(address.dev) lacks address \(want)")
            }
        }
        for route in spec.routes {
            guard let ns = topology.namespace(spec.netns(route.ns)) else { continue }
            let dst = route.to == "default" ? "default" : normalized(route.to)
            let via = route.via.flatMap(IPAddress.init)
            let found = ns.routes.contains {
                $0.table == "main" && $0.dst == dst && $0.gateway.flatMap(IPAddress.init) == via
                    && (route.dev == nil || $0.dev == route.dev)
            }
            let how = [route.via.map { "via \($0)" }, route.dev.map { "dev \($0)" }].compactMap { $0 }
            if !found { out.append("\(ns.name) lacks route \(dst) \(how.joined(separator: " "))") }
        }
        for sysctl in spec.sysctls {
            guard let ns = topology.namespace(spec.netns(sysctl.ns)) else { continue }
            let value = ns.sysctls[sysctl.key]
            // The lab builder skips turning off a feature the kernel does not have (br_netfilter's keys).
            if value == nil && sysctl.value == "0" { continue }
            if value != sysctl.value {
                out.append("\(ns.name) \(sysctl.key)=\(value ?? "absent"), not \(sysctl.value)")
            }
        }
        for rules in spec.rules {
            guard let ns = topology.namespace(spec.netns(rules.ns)) else { continue }
            let backend: String
            switch rules.format {
            case "iptables-restore": backend = "iptables-legacy"
            case "ip6tables-restore": backend = "ip6tables-legacy"
            default: backend = "nft"
            }
            if !ns.rulesets.contains(where: { $0.backend == backend }) {
                out.append("\(ns.name) has no \(backend) ruleset")
            }
        }
        return out
    }

    /// `addr/prefix` in canonical form (`fe80:0::1/64` → `fe80::1/64`); the text itself when it does not parse.
    static func normalized(_ cidr: String) -> String { IPNetwork(cidr)?.description ?? cidr }
}
