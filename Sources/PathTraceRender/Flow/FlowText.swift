import PathTraceCore

/// `pathtrace flow` as text: the diagram in box-drawing characters (or plain ASCII) within 100
/// columns, the walk's steps numbered in the boxes they ran in, then the key and the steps in order.
public enum FlowText {
    public static func render(_ d: FlowDiagram, ascii: Bool = false) -> String {
        let g = Glyphs(ascii: ascii)
        var canvas = Canvas(width: d.width, height: d.height)
        for edge in d.edges { canvas.draw(edge) }
        var lines = canvas.lines(g)
        for box in d.boxes { draw(box, walk: d.walk, into: &lines, g) }
        for label in d.labels {
            put(g.text(label.text), at: label.origin, into: &lines)
        }
        var out = g.text("pathtrace flow — \(d.title)") + "\n\n"
        for line in lines { out += String(line).trimmingTrailing() + "\n" }
        out += "\n"
        for line in d.legend { out += g.text(line) + "\n" }
        if let walk = d.walk { out += key(walk, skipped: skippedSlots(d), g) }
        return out
    }

    /// The lines under a walk: what the marks mean, the steps in order, NAT, why tables were skipped.
    /// `nat (dst) at PREROUTING` for each skipped slot, by the letter of its reason.
    static func skippedSlots(_ d: FlowDiagram) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for box in d.boxes {
            for slot in box.slots {
                guard case .skipped(let reason) = slot.state, let letter = d.walk?.letter(for: reason) else { continue }
                out[letter, default: []].append("\(slot.label) at \(box.title)")
            }
        }
        return out
    }

    static func key(
        _ walk: FlowDiagram.Walk, skipped: [String: [String]], _ g: Glyphs, route: String = "heavy lines"
    ) -> String {
        var out = "\n"
        out +=
            g.text(
                "Numbers are the walk's steps in order; \(g.passed) passed (nothing prints there); (a) skipped, why below;"
            ) + "\n"
        out +=
            g.text(
                "\(g.noChain) no chain in the ruleset; \(g.nat) NAT rewrote the packet there; \(route): the packet's route."
            ) + "\n"
        out += "\n" + wrap(g.text(walk.header), indent: "    ")
        for s in walk.steps {
            let place = s.table.isEmpty ? "(LOG line)" : "\(s.table):\(s.chain)"
            var line = pad(String(s.number), 4, right: true) + "  " + pad(place, 22) + " "
            line += pad(s.entry, 12) + " " + pad(s.verdict, 10)
            if s.box == nil && !s.table.isEmpty { line += " (not on this diagram)" }
            if let rule = s.ruleText { line += " " + rule }
            out += clip(g.text(line).trimmingTrailing(), g) + "\n"
        }
        for nat in walk.nat { out += wrap(g.text("  \(g.nat) NAT  " + nat), indent: "      ") }
        for (letter, reason) in walk.reasons {
            let slots = (skipped[letter] ?? []).joined(separator: ", ")
            out += wrap(g.text("  (\(letter)) \(slots) skipped: " + reason.text), indent: "      ")
        }
        for note in walk.notes { out += wrap(g.text("  " + note), indent: "    ") }
        return out
    }

    /// Breaks `s` at spaces into lines of at most 100 columns; continuation lines start with `indent`.
    static func wrap(_ s: String, indent: String) -> String {
        if s.count <= FlowLayout.maxWidth { return s + "\n" }
        var out = ""
        let lead = String(s.prefix { $0 == " " })
        var line = lead
        for word in s.dropFirst(lead.count).split(separator: " ", omittingEmptySubsequences: false) {
            if line.count > lead.count && line.count + 1 + word.count > FlowLayout.maxWidth {
                out += line + "\n"
                line = indent + word
            } else {
                line += (line.count == lead.count ? "" : " ") + word
            }
        }
        return out + line + "\n"
    }

    /// Cuts `s` to 100 columns, ending in an ellipsis (`...` in ASCII).
    static func clip(_ s: String, _ g: Glyphs) -> String {
        let more = g.ascii ? "..." : "…"
        return s.count <= FlowLayout.maxWidth ? s : String(s.prefix(FlowLayout.maxWidth - more.count)) + more
    }

    static func draw(_ box: FlowDiagram.Box, walk: FlowDiagram.Walk?, into lines: inout [[Character]], _ g: Glyphs) {
        let heavy = box.walked
        let h = heavy ? g.heavyH : g.lightH
        let v = heavy ? g.heavyV : g.lightV
        let inner = box.width - 2
        var top = String(repeating: h, count: inner)
        if !box.title.isEmpty {
            let title = "\(h) \(box.title) "
            top = title + String(repeating: h, count: max(0, inner - title.count))
        }
        let corners = heavy ? g.heavyCorners : g.lightCorners
        put(String(corners.0) + top + String(corners.1), at: box.origin, into: &lines)
        let content: [String] =
            box.slots.isEmpty
            ? box.lines.map { center($0, inner) } : box.slots.map { slotLine($0, walk: walk, g) }
        for (i, text) in content.enumerated() {
            put(String(v) + text + String(v), at: .init(box.origin.x, box.origin.y + 1 + i), into: &lines)
        }
        let bottom = String(corners.2) + String(repeating: h, count: inner) + String(corners.3)
        put(bottom, at: .init(box.origin.x, box.maxY), into: &lines)
    }

    /// `   1 raw          -300 `: step numbers (or a mark), the label, the priority, the NAT mark.
    static func slotLine(_ slot: FlowDiagram.Slot, walk: FlowDiagram.Walk?, _ g: Glyphs) -> String {
        var mark = ""
        switch slot.state {
        case .idle: mark = ""
        case .passed: mark = g.passed
        case .visited:
            mark = stepMark(slot.steps)
        case .skipped(let reason): mark = "(\(walk?.letter(for: reason) ?? "?"))"
        case .noChain: mark = g.noChain
        }
        let nat = slot.nat.isEmpty ? " " : g.nat
        return pad(mark, 4, right: true) + " " + pad(String(slot.label.prefix(12)), 12) + " "
            + pad(priorityText(slot.priority), 4, right: true) + nat
    }

    /// `1`, `5,6`, `5-9` (consecutive), or `10+` when the numbers do not fit in 4 columns.
    public static func stepMark(_ steps: [Int]) -> String {
        guard let first = steps.first, let last = steps.last else { return "" }
        let consecutive = steps.count > 2 && last - first == steps.count - 1
        let mark = consecutive ? "\(first)-\(last)" : steps.map(String.init).joined(separator: ",")
        return mark.count <= 4 ? mark : "\(first)+"
    }

    /// `-300`, `0`, `MAX` for INT_MAX, `MIN` for INT_MIN.
    public static func priorityText(_ p: Int) -> String {
        if p == Int(Int32.max) { return "MAX" }
        if p == Int(Int32.min) { return "MIN" }
        return String(p)
    }

    static func center(_ s: String, _ width: Int) -> String {
        let left = max(0, (width - s.count) / 2)
        return pad(String(repeating: " ", count: left) + s, width)
    }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        if s.count >= width { return s }
        let fill = String(repeating: " ", count: width - s.count)
        return right ? fill + s : s + fill
    }

    static func put(_ s: String, at p: FlowDiagram.Point, into lines: inout [[Character]]) {
        guard p.y >= 0 && p.y < lines.count else { return }
        for (i, c) in s.enumerated() {
            let x = p.x + i
            if x < 0 { continue }
            while lines[p.y].count <= x { lines[p.y].append(" ") }
            lines[p.y][x] = c
        }
    }

    /// Cells of edge lines: which directions leave each cell, and whether the walk used it.
    struct Canvas {
        struct Cell {
            var dirs: UInt8 = 0
            var heavy = false
            var dotted = false
            var arrow: Character?
        }
        static let north: UInt8 = 1
        static let east: UInt8 = 2
        static let south: UInt8 = 4
        static let west: UInt8 = 8

        var width: Int
        var cells: [[Cell]]

        init(width: Int, height: Int) {
            self.width = width
            cells = Array(repeating: Array(repeating: Cell(), count: width), count: height)
        }

        mutating func mark(_ x: Int, _ y: Int, _ dir: UInt8, _ edge: FlowDiagram.Edge) {
            guard y >= 0, y < cells.count, x >= 0, x < width else { return }
            cells[y][x].dirs |= dir
            cells[y][x].heavy = cells[y][x].heavy || edge.walked
            cells[y][x].dotted = edge.style == .handOff
        }

        mutating func draw(_ edge: FlowDiagram.Edge) {
            let pts = edge.points
            guard pts.count >= 2 else { return }
            for (a, b) in zip(pts, pts.dropFirst()) {
                if a.y == b.y {
                    let step = b.x > a.x ? 1 : -1
                    var x = a.x
                    while x != b.x {
                        mark(x, a.y, step > 0 ? Canvas.east : Canvas.west, edge)
                        mark(x + step, a.y, step > 0 ? Canvas.west : Canvas.east, edge)
                        x += step
                    }
                } else {
                    let step = b.y > a.y ? 1 : -1
                    var y = a.y
                    while y != b.y {
                        mark(a.x, y, step > 0 ? Canvas.south : Canvas.north, edge)
                        mark(a.x, y + step, step > 0 ? Canvas.north : Canvas.south, edge)
                        y += step
                    }
                }
            }
            // The ends: a single-cell stub still reads as a line in its direction.
            let (p, q) = (pts[pts.count - 2], pts[pts.count - 1])
            let (s, t) = (pts[0], pts[1])
            if s.y == t.y {
                mark(s.x, s.y, Canvas.east | Canvas.west, edge)
            } else {
                mark(s.x, s.y, Canvas.north | Canvas.south, edge)
            }
            guard q.y >= 0, q.y < cells.count, q.x >= 0, q.x < width else { return }
            cells[q.y][q.x].arrow =
                q.x > p.x ? "▶" : q.x < p.x ? "◀" : q.y > p.y ? "▼" : "▲"
        }

        func lines(_ g: Glyphs) -> [[Character]] {
            cells.map { row in row.map { g.glyph(for: $0) } }
        }
    }

    /// The characters for Unicode box drawing or plain ASCII.
    struct Glyphs {
        var ascii: Bool
        var lightH: Character { ascii ? "-" : "─" }
        var lightV: Character { ascii ? "|" : "│" }
        var heavyH: Character { ascii ? "=" : "━" }
        var heavyV: Character { ascii ? "|" : "┃" }
        var lightCorners: (Character, Character, Character, Character) {
            ascii ? ("+", "+", "+", "+") : ("┌", "┐", "└", "┘")
        }
        var heavyCorners: (Character, Character, Character, Character) {
            ascii ? ("+", "+", "+", "+") : ("┏", "┓", "┗", "┛")
        }
        var passed: String { ascii ? "." : "·" }
        var noChain: String { ascii ? "-" : "∅" }
        var nat: String { ascii ? "@" : "✎" }

        /// Replaces the few non-ASCII characters labels and the key use.
        func text(_ s: String) -> String {
            guard ascii else { return s }
            var out = ""
            for c in s {
                switch c {
                case "→": out += "->"
                case "—": out += "-"
                case "✎": out += "@"
                case "■": out += "#"
                case "·": out += "."
                case "∅": out += "-"
                case "┆": out += ":"
                case "…": out += "..."
                default: out.append(c)
                }
            }
            return out
        }

        func glyph(for cell: Canvas.Cell) -> Character {
            if let a = cell.arrow {
                guard ascii else { return a }
                switch a {
                case "▶": return ">"
                case "◀": return "<"
                case "▼": return "v"
                default: return "^"
                }
            }
            let d = cell.dirs
            if d == 0 { return " " }
            let n = d & Canvas.north != 0
            let e = d & Canvas.east != 0
            let s = d & Canvas.south != 0
            let w = d & Canvas.west != 0
            if cell.dotted {
                if ascii { return cell.heavy ? "#" : ((n || s) ? ":" : ".") }
                if n || s { return cell.heavy ? "┇" : "┆" }
                return cell.heavy ? "┅" : "┄"
            }
            if ascii {
                if (n || s) && (e || w) { return "+" }
                if n || s { return cell.heavy ? "#" : "|" }
                return cell.heavy ? "=" : "-"
            }
            let light: [Character] = [" ", "│", "─", "└", "│", "│", "┌", "├", "─", "┘", "─", "┴", "┐", "┤", "┬", "┼"]
            let heavy: [Character] = [" ", "┃", "━", "┗", "┃", "┃", "┏", "┣", "━", "┛", "━", "┻", "┓", "┫", "┳", "╋"]
            let index = Int((n ? 1 : 0) | (e ? 2 : 0) | (s ? 4 : 0) | (w ? 8 : 0))
            return cell.heavy ? heavy[index] : light[index]
        }
    }
}

extension String {
    /// Drops trailing spaces.
    func trimmingTrailing() -> String {
        var s = Substring(self)
        while s.last == " " { s = s.dropLast() }
        return String(s)
    }
}
