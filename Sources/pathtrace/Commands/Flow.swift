import ArgumentParser
import PathTraceCore
import PathTraceRender

/// `pathtrace flow`: the netfilter hooks and tables in the kernel's order, optionally with a traced
/// packet's walk drawn on them.
struct Flow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Draw netfilter's hooks and tables in the kernel's order, with a traced packet's walk on them.",
        discussion: """
            Each box is a netfilter hook (PREROUTING, INPUT, FORWARD, OUTPUT, POSTROUTING). Inside it, \
            what the kernel runs there, lowest priority first, with the priorities of \
            include/uapi/linux/netfilter_ipv4.h: raw -300, conntrack -200, mangle -150, nat (dst) -100, \
            filter 0, security 50, nat (src) 100, conntrack confirm INT_MAX. Between the hooks sit the \
            routing decisions and the local process. --family bridge draws the bridge hooks (ebtables, nft \
            bridge: broute, nat, filter) and the IP hooks br_netfilter runs for bridged frames.

            With --trace, the file is replayed as `pathtrace replay` does and one packet's walk is drawn: \
            the tables it went through numbered in order, the route in heavy lines, NAT rewrites (✎) and \
            the verdict beside their box. Tables on its path that printed nothing are marked with a letter \
            explained below the diagram: nat sees only a connection's first packet; the ruleset has no \
            chain there; or nothing printed. With --ruleset, tables that have no chain at a hook show ∅.

            Examples:
              pathtrace flow
              pathtrace flow --family bridge --ascii
              pathtrace flow --trace t.log --ruleset filter=fw.nvL --ruleset nat=nat.nvL
              pathtrace flow --trace t.log --packet 3 --format svg > walk.svg
              pathtrace flow --format dot | dot -Tpng > flow.png
            """)

    enum Family: String, ExpressibleByArgument, CaseIterable {
        case ipv4, ipv6, bridge, inet
    }

    enum Format: String, ExpressibleByArgument, CaseIterable {
        case text, svg, dot
    }

    @Option(help: "ipv4, ipv6, bridge or inet (default: ipv4, or the traced walk's own).")
    var family: Family?
    @Option(help: "text, svg or dot.") var format: Format = .text
    @Flag(help: "Plain ASCII instead of box-drawing characters (text only).") var ascii = false
    @Option(help: ArgumentHelp("A saved trace to replay (as `pathtrace replay` reads it).", valueName: "file"))
    var trace: String?
    @Option(help: "The walk to draw: its packet number in the replay.") var packet: Int = 1
    @OptionGroup var rulesets: RulesetOptions

    func validate() throws {
        if packet < 1 { throw ValidationError("--packet: expected a packet number from 1") }
        if trace == nil && packet != 1 { throw ValidationError("--packet: needs --trace FILE") }
    }

    func run() throws {
        let ruleset = try rulesets.load() as? Ruleset
        var walk: PacketWalk?
        if let trace {
            walk = try replay(trace, lookup: ruleset)
            guard walk != nil else {
                throw CLIFailure.usage("--packet: \(trace) has no packet \(packet)")
            }
        }
        let chosen =
            family.flatMap { FlowDiagram.Family($0.rawValue) } ?? walk.map(FlowDiagram.Family.init(for:)) ?? .ipv4
        let diagram = FlowLayout.diagram(family: chosen, walk: walk, ruleset: ruleset)
        let form = FlowFormat(format.rawValue) ?? .text
        FileOutput.stdout.write(form.render(diagram, ascii: ascii))
        FileOutput.stdout.flush()
    }

    /// Replays `path` as `pathtrace replay` does and keeps the walk numbered `packet`.
    func replay(_ path: String, lookup: RuleLookup?) throws -> PacketWalk? {
        var found: PacketWalk?
        let wanted = packet
        var pipeline = ReplayPipeline(lookup: lookup) { walk in
            if walk.packet == wanted && found == nil { found = walk }
        }
        let file = try InputFile(path: path)
        defer { file.close() }
        try pipeline.read(file)
        _ = pipeline.finish()
        return found
    }
}
