import PathTraceCore

/// `pathtrace topology --format text`: each namespace with its interfaces (role, state, addresses, the
/// per-interface sysctls that differ from the usual), its routes, key sysctls and rulesets; then the
/// cables between namespaces. IPv6 link-local addresses and routes are left out (the JSON has them).
public enum TopologyText {
    public static func render(_ topology: Topology) -> String {
        var out = ""
        for ns in topology.namespaces {
            var header = "netns \(ns.name)"
            var facts: [String] = []
            if ns.initial && ns.name != "init" { facts.append("initial") }
            if let pid = ns.pid, !ns.name.hasPrefix("pid ") { facts.append("pid \(pid)") }
            facts.append("inode \(ns.inode)")
            header += "  (" + facts.joined(separator: ", ") + ")\n"
            out += header
            let width = min(16, ns.links.map(\.name.count).max() ?? 0)
            for link in ns.links {
                var line = "  " + pad(link.name, width) + "  "
                line += topology.role(netns: ns.name, ifname: link.name) ?? link.kind
                line += "  " + link.state
                let addresses = link.addresses.filter { !isLinkLocal6($0) }
                if !addresses.isEmpty { line += "  " + addresses.joined(separator: " ") }
                let sysctls = interfaceSysctls(ns, link.name)
                if !sysctls.isEmpty { line += "  [" + sysctls.joined(separator: " ") + "]" }
                out += line + "\n"
            }
            let routes = ns.routes.filter {
                !($0.family == "ipv6" && ($0.dst.hasPrefix("fe80:") || $0.type == "multicast"))
            }
            if !routes.isEmpty {
                out += "  routes:\n"
                for route in routes { out += "    \(route.summary)\n" }
            }
            if let rules = ns.policyRules {
                out += "  policy rules:\n"
                for rule in rules { out += "    \(rule.family) \(rule.priority): \(rule.selector) \(rule.action)\n" }
            }
            let keys = [
                ("net.ipv4.ip_forward", "ip_forward"), ("net.ipv6.conf.all.forwarding", "ipv6 forwarding"),
                ("net.ipv4.conf.all.rp_filter", "rp_filter(all)"),
                ("net.bridge.bridge-nf-call-iptables", "bridge-nf-call-iptables"),
                ("net.bridge.bridge-nf-call-ip6tables", "bridge-nf-call-ip6tables"),
                ("net.netfilter.nf_log_all_netns", "nf_log_all_netns"),
            ]
            let shown = keys.compactMap { key, label in ns.sysctls[key].map { "\(label)=\($0)" } }
            if !shown.isEmpty { out += "  sysctls: " + shown.joined(separator: " ") + "\n" }
            if ns.rulesets.isEmpty {
                let unread = ns.notes.contains { ["iptables", "ip6tables", "nft"].contains(where: $0.hasPrefix) }
                out += unread ? "  rulesets: none read (see the notes)\n" : "  rulesets: none loaded\n"
            } else {
                let sets = ns.rulesets.map { set -> String in
                    if set.backend == "nft" {
                        let tables = set.text.split(separator: "\n").filter { $0.hasPrefix("table ") }.count
                        return "nft (\(tables) table\(tables == 1 ? "" : "s"))"
                    }
                    let tables = set.text.split(separator: "\n").filter { $0.hasPrefix("*") }.map { $0.dropFirst() }
                    return "\(set.backend) (\(tables.joined(separator: " ")))"
                }
                out += "  rulesets: " + sets.joined(separator: ", ") + "\n"
            }
            for note in ns.notes { out += "  note: \(note)\n" }
            out += "\n"
        }
        let between = topology.cables.filter { $0.a.netns != $0.b.netns }
        let within = topology.cables.filter { $0.a.netns == $0.b.netns }
        out += between.isEmpty ? "no cables between namespaces\n" : "cables between namespaces:\n"
        for cable in between { out += "  \(cable.summary)\n" }
        if !within.isEmpty {
            out += "veth pairs within one namespace:\n"
            for cable in within { out += "  \(cable.summary)\n" }
        }
        return out
    }

    /// The per-interface sysctls worth a look: strict or loose rp_filter, accept_local on, forwarding
    /// different from the namespace's ip_forward.
    static func interfaceSysctls(_ ns: TopologyNamespace, _ dev: String) -> [String] {
        var out: [String] = []
        if let v = ns.sysctls["net.ipv4.conf.\(dev).rp_filter"], v != "0" { out.append("rp_filter=\(v)") }
        if let v = ns.sysctls["net.ipv4.conf.\(dev).accept_local"], v != "0" { out.append("accept_local=\(v)") }
        if let v = ns.sysctls["net.ipv4.conf.\(dev).forwarding"], let all = ns.sysctls["net.ipv4.ip_forward"],
            v != all
        {
            out.append("forwarding=\(v)")
        }
        return out
    }

    static func isLinkLocal6(_ cidr: String) -> Bool { cidr.lowercased().hasPrefix("fe80:") }

    static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
    }
}
