import PathTraceCore

/// Builds a `FlowDiagram` from the `Netfilter` model: the hooks of a family, at each hook what the
/// kernel runs there by priority, the routing decisions and the local process, and optionally one
/// packet's walk on top (see `FlowWalkPlacer`).
public enum FlowLayout {
    /// Hook boxes are this wide (cells, borders included); nodes are `nodeWidth`; boxes are `gap` apart.
    static let boxWidth = 25
    static let nodeWidth = 12
    static let gap = 3
    /// The widest a line may be.
    public static let maxWidth = 100

    /// The diagram of `family`; with `walk`, the walk drawn on it; with `ruleset`, tables without a chain
    /// at a hook marked.
    public static func diagram(family: FlowDiagram.Family, walk: PacketWalk? = nil, ruleset: Ruleset? = nil)
        -> FlowDiagram
    {
        var boxes = hookBoxes(family)
        var placed: FlowWalkPlacer.Result?
        if let walk {
            placed = FlowWalkPlacer.place(walk, family: family, boxes: &boxes, ruleset: ruleset)
        } else if let ruleset {
            FlowWalkPlacer.markNoChain(&boxes, ruleset: ruleset, family: nil)
        }
        var diagram = FlowDiagram(
            family: family, title: title(family), boxes: boxes, edges: [], labels: [], legend: legend(family),
            walk: placed?.walk)
        arrange(&diagram, bandLabels: placed?.labels ?? [])
        if let placed {
            for i in diagram.boxes.indices where placed.path.contains(diagram.boxes[i].id) {
                diagram.boxes[i].walked = true
            }
            let pairs = Set(zip(placed.path, placed.path.dropFirst()).map { "\($0)>\($1)" })
            for i in diagram.edges.indices where pairs.contains("\(diagram.edges[i].from)>\(diagram.edges[i].to)") {
                diagram.edges[i].walked = true
            }
        }
        return diagram
    }

    static func title(_ family: FlowDiagram.Family) -> String {
        switch family {
        case .ipv4: return "ipv4: netfilter hooks in the kernel's order (iptables, nft family ip)"
        case .ipv6: return "ipv6: netfilter hooks in the kernel's order (ip6tables, nft family ip6)"
        case .inet: return "inet: nft family inet, one table for IPv4 and IPv6 on the same hooks"
        case .bridge: return "bridge: bridge hooks (ebtables, nft family bridge) and br_netfilter's IP hooks"
        }
    }

    static func legend(_ family: FlowDiagram.Family) -> [String] {
        var lines = [
            "Each box is a hook; inside it, what the kernel runs there, lowest priority first.",
            "conntrack looks the packet up; ct confirm enters a new connection in the table (priority INT_MAX).",
            "nat (dst) runs before routing, nat (src) after it; nat chains see only a connection's first packet.",
        ]
        switch family {
        case .ipv4: lines.insert("Priorities: enum nf_ip_hook_priorities (include/uapi/linux/netfilter_ipv4.h).", at: 1)
        case .ipv6:
            lines.insert("Priorities: enum nf_ip6_hook_priorities (include/uapi/linux/netfilter_ipv6.h).", at: 1)
            lines.append("IPv6 counts hops down (hop limit, not TTL) and finds neighbours with ICMPv6, not ARP.")
        case .inet:
            lines.insert(
                "Priorities: as ipv4 and ipv6 (nft names them raw, mangle, dstnat, filter, security, srcnat).", at: 1)
            lines.append("An inet chain sees IPv4 and IPv6 packets; iptables and ip6tables tables sit beside it.")
        case .bridge:
            lines = [
                "Top row: bridge hooks (ebtables, nft bridge), priorities enum nf_br_hook_priorities",
                "(include/uapi/linux/netfilter_bridge.h). Middle row: the IP hooks br_netfilter runs for a bridged",
                "IP frame at its own priority (┆), only with bridge-nf-call-iptables=1 (ip6tables for IPv6).",
                "broute runs first (NF_BR_PRI_FIRST): its DROP sends the frame up to the IP stack, unbridged.",
                "A frame for the host itself leaves through bridge INPUT to the IP stack, whose INPUT hook runs then.",
            ]
        }
        return lines
    }

    // MARK: - Boxes

    static func hookBoxes(_ family: FlowDiagram.Family) -> [FlowDiagram.Box] {
        func box(_ layer: Netfilter.Layer, _ hook: Hook, _ title: String) -> FlowDiagram.Box {
            let slots = Netfilter.entries(at: hook, layer: layer).map(slot)
            return FlowDiagram.Box(
                id: boxID(layer, hook), kind: .hook(layer, hook), title: title, slots: slots,
                origin: .init(0, 0), width: boxWidth)
        }
        func node(_ id: String, _ lines: [String]) -> FlowDiagram.Box {
            FlowDiagram.Box(id: id, kind: .node, title: "", lines: lines, origin: .init(0, 0), width: nodeWidth)
        }
        switch family {
        case .ipv4, .ipv6, .inet:
            return [
                box(.ip, .prerouting, "PREROUTING"), node("route-in", ["routing", "decision"]),
                box(.ip, .forward, "FORWARD"), box(.ip, .postrouting, "POSTROUTING"),
                box(.ip, .input, "INPUT"), node("local", ["local", "process"]),
                node("route-out", ["routing", "decision"]), box(.ip, .output, "OUTPUT"),
            ]
        case .bridge:
            return [
                box(.bridge, .prerouting, "bridge PREROUTING"), node("bridging", ["bridging", "decision"]),
                box(.bridge, .forward, "bridge FORWARD"), box(.bridge, .postrouting, "bridge POSTROUTING"),
                box(.ip, .prerouting, "ip PREROUTING"), box(.ip, .forward, "ip FORWARD"),
                box(.ip, .postrouting, "ip POSTROUTING"),
                box(.bridge, .input, "bridge INPUT"), node("local", ["IP stack", "(host)"]),
                box(.bridge, .output, "bridge OUTPUT"),
            ]
        }
    }

    static func boxID(_ layer: Netfilter.Layer, _ hook: Hook) -> String { "\(layer.rawValue)/\(hook.rawValue)" }

    static func slot(_ entry: Netfilter.HookEntry) -> FlowDiagram.Slot {
        var label = entry.name
        if let role = entry.natRole { label = "nat (\(role))" }
        if entry.kind == .conntrackConfirm { label = "ct confirm" }
        return FlowDiagram.Slot(name: entry.name, label: label, kind: entry.kind, priority: entry.priority)
    }

    // MARK: - Placement

    /// Positions boxes, draws edges and wire labels, and puts `bandLabels` (NAT, verdict) in lines above
    /// the top row (boxes of the first rows) or below the bottom row.
    static func arrange(_ d: inout FlowDiagram, bandLabels: [(box: String, text: String, kind: FlowDiagram.Label.Kind)])
    {
        let bottomBoxes: Set<String> =
            d.family == .bridge
            ? ["bridge/INPUT", "local", "bridge/OUTPUT"] : ["ip/INPUT", "local", "route-out", "ip/OUTPUT"]
        let above = bandLabels.filter { !bottomBoxes.contains($0.box) }
        let below = bandLabels.filter { bottomBoxes.contains($0.box) }
        let top = above.count
        let wireY = top
        let row1 = top + 2
        let x0 = 0
        let x1 = boxWidth + gap
        let x2 = x1 + nodeWidth + gap
        let x3 = x2 + boxWidth + gap
        func height(_ id: String) -> Int { d.box(id)?.height ?? 0 }
        func put(_ id: String, _ x: Int, _ y: Int) {
            if let i = d.boxes.firstIndex(where: { $0.id == id }) { d.boxes[i].origin = .init(x, y) }
        }
        var edges: [FlowDiagram.Edge] = []
        func edge(_ from: String, _ to: String, _ points: [(Int, Int)], _ style: FlowDiagram.Edge.Style = .flow) {
            edges.append(FlowDiagram.Edge(from: from, to: to, points: points.map { .init($0.0, $0.1) }, style: style))
        }
        let flowY = row1 + 2
        let mid = boxWidth / 2
        var labels: [FlowDiagram.Label] = [
            .init(origin: .init(x0 + mid + 2, wireY), text: "packet in", kind: .wire),
            .init(origin: .init(x3 + mid - 11, wireY), text: "packet out", kind: .wire),
        ]
        let bottom: Int
        switch d.family {
        case .ipv4, .ipv6, .inet:
            let (pre, fwd, post) = ("ip/PREROUTING", "ip/FORWARD", "ip/POSTROUTING")
            let row1H = max(height(pre), height(fwd), height(post), 5)
            let turnY = row1 + row1H + 1
            let row2 = turnY + 2
            let row2H = max(height("ip/INPUT"), height("ip/OUTPUT"), 5)
            put(pre, x0, row1)
            put("route-in", x1, row1 + 1)
            put(fwd, x2, row1)
            put(post, x3, row1)
            put("ip/INPUT", x0, row2)
            put("local", x1, row2 + 1)
            put("route-out", x2, row2 + 1)
            put("ip/OUTPUT", x3, row2)
            let inY = row2 + 2
            edge("wire-in", pre, [(x0 + mid, wireY), (x0 + mid, row1 - 1)])
            edge(pre, "route-in", [(x1 - gap, flowY), (x1 - 1, flowY)])
            edge("route-in", fwd, [(x2 - gap, flowY), (x2 - 1, flowY)])
            edge(fwd, post, [(x3 - gap, flowY), (x3 - 1, flowY)])
            edge(post, "wire-out", [(x3 + mid, row1 - 1), (x3 + mid, wireY)])
            edge(
                "route-in", "ip/INPUT",
                [(x1 + nodeWidth / 2, row1 + 5), (x1 + nodeWidth / 2, turnY), (x0 + mid, turnY), (x0 + mid, row2 - 1)])
            edge("ip/INPUT", "local", [(x1 - gap, inY), (x1 - 1, inY)])
            edge("local", "route-out", [(x2 - gap, inY), (x2 - 1, inY)])
            edge("route-out", "ip/OUTPUT", [(x2 + nodeWidth, inY), (x3 - 1, inY)])
            edge("ip/OUTPUT", post, [(x3 + mid, row2 - 1), (x3 + mid, row1 + height(post))])
            labels.append(.init(origin: .init(x3 + mid + 2, turnY), text: "reroute check", kind: .note))
            bottom = row2 + row2H
        case .bridge:
            let (bpre, bfwd, bpost) = ("bridge/PREROUTING", "bridge/FORWARD", "bridge/POSTROUTING")
            let (ipre, ifwd, ipost) = ("ip/PREROUTING", "ip/FORWARD", "ip/POSTROUTING")
            let row1H = max(height(bpre), height(bfwd), height(bpost), 5)
            let row2 = row1 + row1H + 2
            let row2H = max(height(ipre), height(ifwd), height(ipost))
            let row3 = row2 + row2H + 2
            let row3H = max(height("bridge/INPUT") + 1, height("bridge/OUTPUT"), 5)
            let inX = x1 - 6
            let stackX = inX + boxWidth + gap
            put(bpre, x0, row1)
            put("bridging", x1, row1 + 1)
            put(bfwd, x2, row1)
            put(bpost, x3, row1)
            put(ipre, x0, row2)
            put(ifwd, x2, row2)
            put(ipost, x3, row2)
            put("bridge/INPUT", inX, row3 + 1)
            put("local", stackX, row3 + 1)
            put("bridge/OUTPUT", x3, row3)
            edge("wire-in", bpre, [(x0 + mid, wireY), (x0 + mid, row1 - 1)])
            edge(bpre, "bridging", [(x1 - gap, flowY), (x1 - 1, flowY)])
            edge("bridging", bfwd, [(x2 - gap, flowY), (x2 - 1, flowY)])
            edge(bfwd, bpost, [(x3 - gap, flowY), (x3 - 1, flowY)])
            edge(bpost, "wire-out", [(x3 + mid, row1 - 1), (x3 + mid, wireY)])
            for (b, i, x) in [(bpre, ipre, x0), (bfwd, ifwd, x2), (bpost, ipost, x3)] {
                edge(b, i, [(x + mid, row1 + height(b)), (x + mid, row2 - 1)], .handOff)
            }
            let c = x1 + nodeWidth / 2
            edge("bridging", "bridge/INPUT", [(c, row1 + 5), (c, row3)])
            let inY = row3 + 2
            edge("bridge/INPUT", "local", [(inX + boxWidth, inY), (stackX - 1, inY)])
            edge("local", "bridge/OUTPUT", [(stackX + nodeWidth, inY), (x3 - 1, inY)])
            let right = x3 + boxWidth + 1
            edge("bridge/OUTPUT", bpost, [(right - 1, inY), (right, inY), (right, flowY), (right - 1, flowY)])
            bottom = row3 + row3H
        }
        for (i, l) in above.enumerated() { labels.append(band(l, y: i, in: d)) }
        for (i, l) in below.enumerated() { labels.append(band(l, y: bottom + 1 + i, in: d)) }
        d.edges = edges
        d.labels = labels
    }

    /// A NAT or verdict line beside its box: starting at the box, moved left to fit `maxWidth`.
    static func band(
        _ l: (box: String, text: String, kind: FlowDiagram.Label.Kind), y: Int, in d: FlowDiagram
    ) -> FlowDiagram.Label {
        var text = l.text
        if text.count > maxWidth { text = String(text.prefix(maxWidth - 1)) + "…" }
        let x = min(d.box(l.box)?.origin.x ?? 0, maxWidth - text.count)
        return FlowDiagram.Label(origin: .init(max(0, x), y), text: text, kind: l.kind, besideBox: l.box)
    }
}
