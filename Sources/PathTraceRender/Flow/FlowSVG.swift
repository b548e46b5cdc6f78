import PathTraceCore

/// `pathtrace flow --format svg`: the same layout as the text, scaled to about 1200 px wide.
///
/// Self-contained: no scripts, no external fonts or images (generic `monospace` and `sans-serif`),
/// dark text on white, colours from the Okabe–Ito palette (safe for colour-blind readers). The walk is
/// a thick blue route with numbered badges; skipped tables are grey and italic.
public enum FlowSVG {
    static let cellWidth = 12
    static let cellHeight = 22
    static let margin = 12
    static let titleHeight = 40
    static let lineHeight = 19

    /// Okabe–Ito colours.
    enum Palette {
        static let blue = "#0072B2"
        static let skyBlue = "#56B4E9"
        static let vermillion = "#D55E00"
        static let bluishGreen = "#009E73"
        static let ink = "#1A1A1A"
        static let grey = "#767676"
        static let line = "#5A5A5A"
        static let paper = "#FFFFFF"
        static let node = "#F2F2F2"
        static let visited = "#DCEEF9"
    }

    public static func render(_ d: FlowDiagram) -> String {
        let width = max(1200, d.width * cellWidth + 2 * margin)
        let keyLines = keyText(d)
        let diagramHeight = d.height * cellHeight
        let height = titleHeight + diagramHeight + 16 + keyLines.count * lineHeight + margin
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="1200" height="\(height * 1200 / width)" \
            viewBox="0 0 \(width) \(height)" font-family="monospace" font-size="14">
            <title>\(MarkupText.xml("pathtrace flow — " + d.title))</title>
            <defs>
              <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" \
            orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="\(Palette.line)"/></marker>
              <marker id="arrow-walk" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="4" markerHeight="4" \
            orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="\(Palette.blue)"/></marker>
            </defs>
            <rect x="0" y="0" width="\(width)" height="\(height)" fill="\(Palette.paper)"/>
            <text x="\(margin)" y="26" font-family="sans-serif" font-size="18" font-weight="bold" \
            fill="\(Palette.ink)">\(MarkupText.xml("pathtrace flow — " + d.title))</text>

            """
        for edge in d.edges where !edge.walked { out += self.edge(edge) }
        for edge in d.edges where edge.walked { out += self.edge(edge) }
        for box in d.boxes { out += self.box(box, walk: d.walk) }
        for label in d.labels { out += self.label(label) }
        var y = titleHeight + diagramHeight + 16 + 14
        for line in keyLines {
            out += "<text x=\"\(margin)\" y=\"\(y)\" fill=\"\(Palette.ink)\" xml:space=\"preserve\">"
            out += MarkupText.xml(line) + "</text>\n"
            y += lineHeight
        }
        out += "</svg>\n"
        return out
    }

    /// The legend and the walk's key, as the text shows them.
    static func keyText(_ d: FlowDiagram) -> [String] {
        var lines = d.legend
        if let walk = d.walk {
            lines += FlowText.key(
                walk, skipped: FlowText.skippedSlots(d), FlowText.Glyphs(ascii: false), route: "thick blue line"
            ).split(
                separator: "\n", omittingEmptySubsequences: false
            )
            .map(String.init)
            while lines.last == "" { lines.removeLast() }
        }
        return lines
    }

    static func x(_ cell: Int) -> Int { margin + cell * cellWidth }
    static func y(_ cell: Int) -> Int { titleHeight + cell * cellHeight }
    static func cx(_ cell: Int) -> Int { x(cell) + cellWidth / 2 }
    static func cy(_ cell: Int) -> Int { y(cell) + cellHeight / 2 }

    static func edge(_ e: FlowDiagram.Edge) -> String {
        guard e.points.count >= 2 else { return "" }
        var pts = e.points.map { (cx($0.x), cy($0.y)) }
        // Reach the box borders: half a cell further at both ends.
        func extend(_ a: (Int, Int), _ b: (Int, Int)) -> (Int, Int) {
            let dx = b.0 == a.0 ? 0 : (b.0 > a.0 ? cellWidth / 2 : -cellWidth / 2)
            let dy = b.1 == a.1 ? 0 : (b.1 > a.1 ? cellHeight / 2 : -cellHeight / 2)
            return (b.0 + dx, b.1 + dy)
        }
        let n = pts.count
        pts[n - 1] = extend(pts[n - 2], pts[n - 1])
        if e.from != "wire-in" { pts[0] = extend(pts[1], pts[0]) }
        let list = pts.map { "\($0.0),\($0.1)" }.joined(separator: " ")
        let stroke = e.walked ? Palette.blue : Palette.line
        let widthAttr = e.walked ? "5" : "1.6"
        let dash = e.style == .handOff ? " stroke-dasharray=\"5 4\"" : ""
        let marker = e.walked ? "arrow-walk" : "arrow"
        return "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"\(widthAttr)\""
            + "\(dash) stroke-linejoin=\"round\" marker-end=\"url(#\(marker))\"/>\n"
    }

    static func box(_ b: FlowDiagram.Box, walk: FlowDiagram.Walk?) -> String {
        let bx = x(b.origin.x)
        let by = y(b.origin.y)
        let w = b.width * cellWidth
        let h = b.height * cellHeight
        let stroke = b.walked ? Palette.blue : Palette.line
        let sw = b.walked ? "3" : "1.4"
        var out = "<g>\n"
        if b.slots.isEmpty {
            out += "<rect x=\"\(bx)\" y=\"\(by)\" width=\"\(w)\" height=\"\(h)\" rx=\"14\" fill=\"\(Palette.node)\" "
            out += "stroke=\"\(stroke)\" stroke-width=\"\(sw)\"/>\n"
            for (i, line) in b.lines.enumerated() {
                out += "<text x=\"\(bx + w / 2)\" y=\"\(cy(b.origin.y + 1 + i) + 5)\" text-anchor=\"middle\" "
                out += "font-family=\"sans-serif\" fill=\"\(Palette.ink)\">\(MarkupText.xml(line))</text>\n"
            }
            return out + "</g>\n"
        }
        out += "<rect x=\"\(bx)\" y=\"\(by)\" width=\"\(w)\" height=\"\(h)\" rx=\"6\" fill=\"\(Palette.paper)\" "
        out += "stroke=\"\(stroke)\" stroke-width=\"\(sw)\"/>\n"
        let headFill = b.walked ? Palette.blue : "#E6E6E6"
        let headInk = b.walked ? Palette.paper : Palette.ink
        out += "<rect x=\"\(bx)\" y=\"\(by)\" width=\"\(w)\" height=\"\(cellHeight)\" rx=\"6\" fill=\"\(headFill)\"/>\n"
        out += "<text x=\"\(bx + 10)\" y=\"\(cy(b.origin.y) + 5)\" font-family=\"sans-serif\" font-weight=\"bold\" "
        out += "fill=\"\(headInk)\">\(MarkupText.xml(b.title))</text>\n"
        for (i, slot) in b.slots.enumerated() {
            let row = b.origin.y + 1 + i
            let ty = cy(row) + 5
            var ink = Palette.ink
            var style = ""
            var mark = ""
            switch slot.state {
            case .visited:
                out += "<rect x=\"\(bx + 3)\" y=\"\(y(row) + 1)\" width=\"\(w - 6)\" height=\"\(cellHeight - 2)\" "
                out += "fill=\"\(Palette.visited)\"/>\n"
            case .passed: mark = "·"
            case .skipped(let reason):
                ink = Palette.grey
                style = " font-style=\"italic\""
                mark = "(\(walk?.letter(for: reason) ?? "?"))"
            case .noChain:
                ink = Palette.grey
                style = " font-style=\"italic\""
                mark = "∅"
            case .idle: break
            }
            if slot.state == .visited {
                var bxStep = bx + 14
                for n in slot.steps.prefix(3) {
                    out += "<circle cx=\"\(bxStep)\" cy=\"\(cy(row))\" r=\"9\" fill=\"\(Palette.blue)\"/>\n"
                    out += "<text x=\"\(bxStep)\" y=\"\(cy(row) + 4)\" text-anchor=\"middle\" font-size=\"11\" "
                    out += "font-weight=\"bold\" fill=\"\(Palette.paper)\">\(n)</text>\n"
                    bxStep += 20
                }
            } else if !mark.isEmpty {
                out += "<text x=\"\(bx + 34)\" y=\"\(ty)\" text-anchor=\"end\" fill=\"\(ink)\"\(style)>"
                out += MarkupText.xml(mark) + "</text>\n"
            }
            let labelX = bx + 4 + 5 * cellWidth + (slot.steps.count > 2 ? 12 : 0)
            out += "<text x=\"\(labelX)\" y=\"\(ty)\" fill=\"\(ink)\"\(style)>\(MarkupText.xml(slot.label))</text>\n"
            out += "<text x=\"\(bx + w - 22)\" y=\"\(ty)\" text-anchor=\"end\" fill=\"\(ink)\"\(style)>"
            out += MarkupText.xml(FlowText.priorityText(slot.priority)) + "</text>\n"
            if !slot.nat.isEmpty {
                out += "<text x=\"\(bx + w - 9)\" y=\"\(ty + 1)\" text-anchor=\"middle\" font-size=\"17\" "
                out += "font-weight=\"bold\" fill=\"\(Palette.vermillion)\">✎</text>\n"
            }
        }
        return out + "</g>\n"
    }

    static func label(_ l: FlowDiagram.Label) -> String {
        var fill = Palette.ink
        var extra = ""
        switch l.kind {
        case .wire: extra = " font-family=\"sans-serif\""
        case .note:
            fill = Palette.grey
            extra = " font-family=\"sans-serif\" font-style=\"italic\""
        case .nat:
            fill = Palette.vermillion
            extra = " font-weight=\"bold\""
        case .verdict(let v):
            fill = v == .accept ? Palette.bluishGreen : (v == .drop ? Palette.vermillion : Palette.ink)
            extra = " font-weight=\"bold\""
        }
        return "<text x=\"\(x(l.origin.x))\" y=\"\(cy(l.origin.y) + 5)\" fill=\"\(fill)\"\(extra) "
            + "xml:space=\"preserve\">\(MarkupText.xml(l.text))</text>\n"
    }

}
