import PathTraceCore

/// `pathtrace flow --format dot`: the diagram as a Graphviz digraph. Each hook is an HTML-like table
/// (a row per slot, by priority); Graphviz does the layout. The walk's route is thick and blue, its steps
/// are numbered in the rows, skipped rows are grey, NAT and the verdict are rows under the hook.
public enum FlowDot {
    public static func render(_ d: FlowDiagram) -> String {
        var out = "digraph flow {\n"
        out +=
            "  graph [rankdir=LR, fontname=\"monospace\", label=\(MarkupText.dotQuoted("pathtrace flow — " + d.title)), "
        out += "labelloc=t, nodesep=0.4, ranksep=0.5];\n"
        out += "  node [fontname=\"monospace\", fontsize=11];\n"
        out += "  edge [fontname=\"monospace\", fontsize=10, color=\"#5A5A5A\"];\n"
        out += "  \"wire-in\" [shape=plaintext, label=\"packet in\"];\n"
        out += "  \"wire-out\" [shape=plaintext, label=\"packet out\"];\n"
        for box in d.boxes {
            if box.slots.isEmpty {
                let style = box.walked ? ", color=\"#0072B2\", penwidth=3" : ""
                out += "  \(MarkupText.dotQuoted(box.id)) [shape=box, style=rounded\(style), "
                out += "label=\(MarkupText.dotQuoted(box.lines.joined(separator: "\n")))];\n"
            } else {
                out += "  \(MarkupText.dotQuoted(box.id)) [shape=plain, label=<\(table(box, d))>];\n"
            }
        }
        for e in d.edges {
            var attrs: [String] = []
            if e.style == .handOff { attrs += ["style=dashed", "label=\"br_netfilter\""] }
            if e.walked { attrs += ["color=\"#0072B2\"", "penwidth=3"] }
            let list = attrs.isEmpty ? "" : " [" + attrs.joined(separator: ", ") + "]"
            out += "  \(MarkupText.dotQuoted(e.from)) -> \(MarkupText.dotQuoted(e.to))\(list);\n"
        }
        out += "}\n"
        return out
    }

    static func table(_ box: FlowDiagram.Box, _ d: FlowDiagram) -> String {
        let border = box.walked ? "#0072B2" : "#5A5A5A"
        var s = "<TABLE BORDER=\"\(box.walked ? 3 : 1)\" CELLBORDER=\"0\" CELLSPACING=\"0\" CELLPADDING=\"3\" "
        s += "COLOR=\"\(border)\">"
        s += "<TR><TD COLSPAN=\"3\" BGCOLOR=\"\(box.walked ? "#0072B2" : "#E6E6E6")\">"
        s +=
            "<FONT COLOR=\"\(box.walked ? "#FFFFFF" : "#1A1A1A")\"><B>\(MarkupText.xml(box.title))</B></FONT></TD></TR>"
        for slot in box.slots {
            var mark = ""
            var color = "#1A1A1A"
            var bg = ""
            switch slot.state {
            case .idle: break
            case .passed: mark = "·"
            case .visited:
                mark = slot.steps.map(String.init).joined(separator: ",")
                bg = " BGCOLOR=\"#DCEEF9\""
            case .skipped(let reason):
                mark = "(\(d.walk?.letter(for: reason) ?? "?"))"
                color = "#767676"
            case .noChain:
                mark = "∅"
                color = "#767676"
            }
            // Graphviz rejects an empty <FONT>: a space stands for no mark.
            let markCell =
                slot.state == .visited ? "<B>\(MarkupText.xml(mark))</B>" : (mark.isEmpty ? " " : MarkupText.xml(mark))
            let nat = slot.nat.isEmpty ? "" : " ✎"
            s += "<TR><TD ALIGN=\"RIGHT\"\(bg)><FONT COLOR=\"\(color == "#1A1A1A" ? "#0072B2" : color)\">\(markCell)"
            s +=
                "</FONT></TD><TD ALIGN=\"LEFT\"\(bg)><FONT COLOR=\"\(color)\">\(MarkupText.xml(slot.label))</FONT></TD>"
            s += "<TD ALIGN=\"RIGHT\"\(bg)><FONT COLOR=\"\(color)\">"
            s += "\(MarkupText.xml(FlowText.priorityText(slot.priority) + nat))</FONT></TD></TR>"
        }
        for label in d.labels where label.kind != .wire && label.kind != .note && isBeside(label, box) {
            let color: String
            switch label.kind {
            case .verdict(let v): color = v == .accept ? "#009E73" : (v == .drop ? "#D55E00" : "#1A1A1A")
            default: color = "#D55E00"
            }
            s +=
                "<TR><TD COLSPAN=\"3\" ALIGN=\"LEFT\"><FONT COLOR=\"\(color)\">\(MarkupText.xml(label.text))</FONT></TD></TR>"
        }
        return s + "</TABLE>"
    }

    /// Whether a band label belongs to `box`: it starts at the box's column (or was moved left to fit).
    static func isBeside(_ label: FlowDiagram.Label, _ box: FlowDiagram.Box) -> Bool {
        label.besideBox == box.id
    }

}
