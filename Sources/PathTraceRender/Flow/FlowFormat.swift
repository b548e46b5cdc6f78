import PathTraceCore

/// The three forms of `pathtrace flow`.
public enum FlowFormat: String, Sendable, CaseIterable {
    case text, svg, dot

    /// Parses `text`, `svg`, `dot`.
    public init?(_ text: String) { self.init(rawValue: text) }

    /// Draws `diagram` in this form; `ascii` applies to text only.
    public func render(_ diagram: FlowDiagram, ascii: Bool = false) -> String {
        switch self {
        case .text: return FlowText.render(diagram, ascii: ascii)
        case .svg: return FlowSVG.render(diagram)
        case .dot: return FlowDot.render(diagram)
        }
    }
}

extension FlowDiagram.Family {
    /// The diagram a walk belongs on: bridge for a bridged walk, else the walk's own family.
    public init(for walk: PacketWalk) {
        switch (walk.path, walk.family) {
        case (.bridged, _), (_, .bridge): self = .bridge
        case (_, .ipv6): self = .ipv6
        default: self = .ipv4
        }
    }
}

extension FlowLayout {
    /// The text diagram of `walk`'s family with the walk drawn on it, as `pathtrace flow --trace` prints it
    /// (`--show-flow` prints it under each walk's timeline).
    public static func text(of walk: PacketWalk, ruleset: Ruleset? = nil, ascii: Bool = false) -> String {
        let diagram = diagram(family: FlowDiagram.Family(for: walk), walk: walk, ruleset: ruleset)
        return FlowText.render(diagram, ascii: ascii) + "\n"
    }
}
