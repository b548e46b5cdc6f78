import PathTraceCore

/// The netfilter hooks of one family laid out on a grid of character cells: boxes, edges, labels and,
/// optionally, one packet's walk on top. Pure data: `FlowText`, `FlowSVG` and `FlowDot` draw it.
///
/// Coordinates are cells (column, row) from the top left; the text renderer prints a cell per
/// character and the SVG renderer scales them, so both show the same picture.
public struct FlowDiagram: Sendable, Equatable {
    /// The families `pathtrace flow --family` draws.
    public enum Family: String, Sendable, CaseIterable {
        case ipv4, ipv6, bridge, inet

        /// Parses `ipv4`, `ipv6`, `bridge`, `inet`.
        public init?(_ text: String) { self.init(rawValue: text) }
    }

    /// A cell position.
    public struct Point: Sendable, Equatable {
        public var x: Int
        public var y: Int
        public init(_ x: Int, _ y: Int) {
            self.x = x
            self.y = y
        }
    }

    /// Why a table on the packet's path printed nothing.
    public enum SkipReason: Sendable, Equatable {
        /// nat chains see only a connection's first packet; this one belongs to packet `connection`'s.
        case natFirstPacketOnly(connection: Int)
        /// The ruleset has this table but no chain at this hook.
        case noChain
        /// The ruleset given has no such table (it is not loaded, or was not listed).
        case notInRuleset
        /// Nothing printed: the table is not loaded here, or the trace does not show it.
        case notTraced

        /// One sentence a learner can check.
        public var text: String {
            switch self {
            case .natFirstPacketOnly(let c):
                return "nat chains see only a connection's first packet; this packet belongs to the connection "
                    + "packet \(c) opened, so conntrack applies that packet's NAT without them"
            case .noChain: return "the ruleset has no chain for this table at this hook"
            case .notInRuleset: return "the ruleset given has no such table (not loaded, or not listed)"
            case .notTraced: return "nothing printed here: the table is not loaded, or the trace does not show it"
            }
        }
    }

    /// What a slot shows.
    public enum SlotState: Sendable, Equatable {
        /// Not on the walk (or no walk drawn).
        case idle
        /// On the walk, but nothing that prints runs here (conntrack, br_netfilter) or its layer is not traced.
        case passed
        /// The walk's steps ran here.
        case visited
        /// On the walk's path before it ended, yet the packet did not go through this table.
        case skipped(SkipReason)
        /// Off the walk (or no walk): the ruleset has this table but no chain at this hook.
        case noChain
    }

    /// One entry of a hook box: a table or another function registered at the hook.
    public struct Slot: Sendable, Equatable {
        /// `raw`, `nat`, an nft table's name, `conntrack`, `br_netfilter`.
        public var name: String
        /// An nft base chain with a slot of its own: its name (the table's name is `name`).
        public var chain: String?
        /// The name as drawn: `nat (dst)`, `ct confirm`, `pt pre`.
        public var label: String
        public var kind: Netfilter.HookEntry.Kind
        public var priority: Int
        public var state: SlotState = .idle
        /// The walk's step numbers that ran here, in order.
        public var steps: [Int] = []
        /// The NAT rewrites that happened here, as drawn beside the box.
        public var nat: [String] = []

        public init(name: String, label: String, kind: Netfilter.HookEntry.Kind, priority: Int) {
            self.name = name
            self.label = label
            self.kind = kind
            self.priority = priority
        }
    }

    /// A box: a hook with its slots, or a plain node (routing decision, local process).
    public struct Box: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case hook(Netfilter.Layer, Hook)
            case node
        }

        /// Stable id: `ip/PREROUTING`, `bridge/FORWARD`, `route-in`, `local`.
        public var id: String
        public var kind: Kind
        /// Drawn in the top border (hooks) or empty (nodes).
        public var title: String
        /// A node's text lines.
        public var lines: [String]
        public var slots: [Slot]
        public var origin: Point
        public var width: Int
        /// Whether the walk went through the box.
        public var walked = false

        public init(
            id: String, kind: Kind, title: String, lines: [String] = [], slots: [Slot] = [], origin: Point,
            width: Int
        ) {
            self.id = id
            self.kind = kind
            self.title = title
            self.lines = lines
            self.slots = slots
            self.origin = origin
            self.width = width
        }

        /// Rows, borders included.
        public var height: Int { 2 + (slots.isEmpty ? lines.count : slots.count) }
        public var maxX: Int { origin.x + width - 1 }
        public var maxY: Int { origin.y + height - 1 }
        public var centerX: Int { origin.x + width / 2 }
    }

    /// A line between boxes (or from/to the wire), drawn through `points`, the arrow at the last one.
    public struct Edge: Sendable, Equatable {
        public enum Style: Sendable, Equatable {
            /// The packet moves on.
            case flow
            /// br_netfilter hands a bridged frame to the IP hooks.
            case handOff
        }

        public var from: String
        public var to: String
        public var points: [Point]
        public var style: Style
        public var walked = false

        public init(from: String, to: String, points: [Point], style: Style = .flow) {
            self.from = from
            self.to = to
            self.points = points
            self.style = style
        }
    }

    /// Text placed on the grid: wire ends, NAT rewrites, the verdict, edge notes.
    public struct Label: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case wire, note, nat, verdict(WalkVerdict)
        }

        public var origin: Point
        public var text: String
        public var kind: Kind
        /// The box a NAT or verdict line is about.
        public var besideBox: String?

        public init(origin: Point, text: String, kind: Kind, besideBox: String? = nil) {
            self.origin = origin
            self.text = text
            self.kind = kind
            self.besideBox = besideBox
        }
    }

    /// One numbered step of the walk, as the key below the diagram lists it.
    public struct Step: Sendable, Equatable {
        public var number: Int
        public var table: String
        public var chain: String
        /// `policy 3`, `rule 2`, `handle 7`, `return 3`.
        public var entry: String
        /// `accept`, `accept*` (inferred), `jump WEB`, or empty.
        public var verdict: String
        public var ruleText: String?
        /// The box it is drawn in; nil when this diagram has no place for it.
        public var box: String?
    }

    /// The walk drawn on the diagram.
    public struct Walk: Sendable, Equatable {
        /// `packet 1  ipv4 tcp 192.168.122.17:42954 → 10.44.32.217:3128 [SYN]  path forward  verdict accept`.
        public var header: String
        public var steps: [Step]
        /// Skip reasons by their letter, in letter order.
        public var reasons: [(letter: String, reason: SkipReason)]
        public var nat: [String]
        public var notes: [String]

        public static func == (a: Walk, b: Walk) -> Bool {
            a.header == b.header && a.steps == b.steps && a.nat == b.nat && a.notes == b.notes
                && a.reasons.map(\.letter) == b.reasons.map(\.letter)
                && a.reasons.map(\.reason) == b.reasons.map(\.reason)
        }

        /// The letter of a skip reason.
        public func letter(for reason: SkipReason) -> String? { reasons.first { $0.reason == reason }?.letter }
    }

    public var family: Family
    public var title: String
    public var boxes: [Box]
    public var edges: [Edge]
    public var labels: [Label]
    /// Lines under the diagram that explain it (what a box is, the legend).
    public var legend: [String]
    public var walk: Walk?

    /// Width and height in cells.
    public var width: Int {
        max(
            boxes.map { $0.maxX + 1 }.max() ?? 0, labels.map { $0.origin.x + $0.text.count }.max() ?? 0,
            edges.flatMap(\.points).map { $0.x + 1 }.max() ?? 0)
    }
    public var height: Int {
        max(
            boxes.map { $0.maxY + 1 }.max() ?? 0, labels.map { $0.origin.y + 1 }.max() ?? 0,
            edges.flatMap(\.points).map { $0.y + 1 }.max() ?? 0)
    }

    /// The box with this id.
    public func box(_ id: String) -> Box? { boxes.first { $0.id == id } }

    /// The step numbers drawn in the boxes, each with its box and slot: what the picture numbers.
    public var numberedSlots: [(number: Int, box: String, slot: String)] {
        var out: [(Int, String, String)] = []
        for box in boxes {
            for slot in box.slots {
                for n in slot.steps { out.append((n, box.id, slot.name)) }
            }
        }
        return out.sorted { $0.0 < $1.0 }
    }
}
