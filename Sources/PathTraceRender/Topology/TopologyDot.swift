import PathTraceCore

/// `pathtrace topology --format dot`: a Graphviz graph with a cluster per namespace, a node per
/// interface, bridge (and bond) ports inside a nested cluster of their bridge, and each veth cable as an
/// edge between its two ends. Every id is quoted.
public enum TopologyDot {
    public static func render(_ topology: Topology) -> String {
        var out = "graph topology {\n"
        out += "  graph [rankdir=LR, fontname=\"monospace\"];\n"
        out += "  node [shape=box, fontname=\"monospace\", fontsize=10];\n"
        out += "  edge [fontname=\"monospace\", fontsize=9];\n"
        for (n, ns) in topology.namespaces.enumerated() {
            out += "  subgraph \(MarkupText.dotQuoted("cluster_ns\(n)")) {\n"
            out += "    label=\(MarkupText.dotQuoted("netns " + ns.name));\n"
            let masters = Set(ns.links.compactMap(\.master))
            var placed = Set<String>()
            for (b, bridge) in ns.links.enumerated() where masters.contains(bridge.name) {
                out += "    subgraph \(MarkupText.dotQuoted("cluster_ns\(n)_\(b)")) {\n"
                out += "      label=\(MarkupText.dotQuoted("\(bridge.kind) \(bridge.name)"));\n"
                out += "      " + node(topology, ns, bridge) + "\n"
                placed.insert(bridge.name)
                for port in ns.links where port.master == bridge.name {
                    out += "      " + node(topology, ns, port) + "\n"
                    placed.insert(port.name)
                }
                out += "    }\n"
            }
            for link in ns.links where !placed.contains(link.name) {
                out += "    " + node(topology, ns, link) + "\n"
            }
            out += "  }\n"
        }
        for cable in topology.cables {
            guard let a = cable.a.netns, let ai = cable.a.ifname, let b = cable.b.netns, let bi = cable.b.ifname
            else { continue }
            out +=
                "  \(MarkupText.dotQuoted(id(a, ai))) -- \(MarkupText.dotQuoted(id(b, bi))) [label=\(MarkupText.dotQuoted(cable.kind))];\n"
        }
        out += "}\n"
        return out
    }

    static func node(_ topology: Topology, _ ns: TopologyNamespace, _ link: TopologyLink) -> String {
        var lines = [link.name, link.kind + (link.state == "up" ? "" : " (\(link.state))")]
        lines += link.addresses.filter { !$0.lowercased().hasPrefix("fe80:") }
        return
            "\(MarkupText.dotQuoted(id(ns.name, link.name))) [label=\(MarkupText.dotQuoted(lines.joined(separator: "\n")))];"
    }

    static func id(_ netns: String, _ ifname: String) -> String { "\(netns)/\(ifname)" }

}
