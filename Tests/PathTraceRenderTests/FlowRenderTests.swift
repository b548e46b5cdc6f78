import Foundation
import PathTraceCore
import PathTraceRender
import TestSupport
import Testing

/// `pathtrace flow`: the diagram of each family, walks drawn on it, and its three forms.
@Suite struct FlowRenderTests {
    /// A replayed walk with the ruleset it was replayed with.
    struct Traced {
        var walk: PacketWalk
        var ruleset: Ruleset
    }

    /// Replays `trace` with `rulesets` (table, file under Fixtures) through the replay pipeline; walk `packet`.
    static func traced(_ trace: String, _ rulesets: [(table: String?, file: String)], packet: Int = 1) throws
        -> Traced
    {
        let result = try ReplayHarness.run([trace], rulesets: rulesets)
        let walk = try #require(result.walks.first { $0.packet == packet })
        var ruleset = Ruleset()
        for r in rulesets {
            ruleset.merge(try RulesetParser.parse(Fixtures.text(r.file), defaultTable: r.table, sourceName: r.file))
        }
        return Traced(walk: walk, ruleset: ruleset)
    }

    static func seed() throws -> Traced {
        try traced(
            "seed/001-libvirt-nat.dmesg", [("filter", "seed/001-filter.nvL"), ("nat", "seed/001-nat.nvL")])
    }

    static func seedDiagram() throws -> FlowDiagram {
        let t = try seed()
        return FlowLayout.diagram(family: .ipv4, walk: t.walk, ruleset: t.ruleset)
    }

    static func expectFits(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        for line in text.split(separator: "\n") where line.count > 100 {
            Issue.record("line wider than 100 columns: \(line)", sourceLocation: sourceLocation)
        }
    }

    // MARK: - The diagram of each family

    @Test(arguments: FlowDiagram.Family.allCases)
    func familyDiagram(_ family: FlowDiagram.Family) throws {
        let d = FlowLayout.diagram(family: family)
        let text = FlowText.render(d)
        Self.expectFits(text)
        try assertGolden(text, named: "flow/\(family.rawValue).txt")
        let ascii = FlowText.render(d, ascii: true)
        Self.expectFits(ascii)
        let plain = ascii.unicodeScalars.allSatisfy { $0.isASCII }
        #expect(plain)
        try assertGolden(ascii, named: "flow/\(family.rawValue)-ascii.txt")
    }

    @Test func ipHooksHoldTheKernelsPriorities() {
        let d = FlowLayout.diagram(family: .ipv4)
        func slots(_ id: String) -> [String] {
            (d.box(id)?.slots ?? []).map { "\($0.label) \(FlowText.priorityText($0.priority))" }
        }
        #expect(slots("ip/PREROUTING") == ["raw -300", "conntrack -200", "mangle -150", "nat (dst) -100"])
        #expect(slots("ip/INPUT") == ["mangle -150", "filter 0", "security 50", "nat (src) 100", "ct confirm MAX"])
        #expect(slots("ip/FORWARD") == ["mangle -150", "filter 0", "security 50"])
        #expect(
            slots("ip/OUTPUT") == [
                "raw -300", "conntrack -200", "mangle -150", "nat (dst) -100", "filter 0", "security 50",
            ])
        #expect(slots("ip/POSTROUTING") == ["mangle -150", "nat (src) 100", "ct confirm MAX"])
        let bridge = FlowLayout.diagram(family: .bridge)
        #expect(
            (bridge.box("bridge/PREROUTING")?.slots ?? []).map(\.label) == ["broute", "nat (dst)", "br_netfilter"])
        #expect((bridge.box("bridge/POSTROUTING")?.slots ?? []).map(\.priority) == [300, Int(Int32.max)])
        #expect(
            bridge.edges.filter { $0.style == .handOff }.map(\.to) == ["ip/PREROUTING", "ip/FORWARD", "ip/POSTROUTING"])
    }

    // MARK: - Walks

    @Test func seedSynWalk() throws {
        let d = try Self.seedDiagram()
        let text = FlowText.render(d)
        Self.expectFits(text)
        try assertGolden(text, named: "flow/ipv4-seed-001.txt")
        try assertGolden(FlowText.render(d, ascii: true), named: "flow/ipv4-seed-001-ascii.txt")
        #expect(d.box("ip/POSTROUTING")?.slots.first { $0.name == "nat" }?.nat.isEmpty == false)
        #expect(d.labels.contains { $0.kind == .verdict(.accept) && $0.besideBox == "ip/POSTROUTING" })
        #expect(d.box("ip/INPUT")?.walked == false)
        #expect(
            d.edges.filter(\.walked).map { "\($0.from)>\($0.to)" } == [
                "wire-in>ip/PREROUTING", "ip/PREROUTING>route-in", "route-in>ip/FORWARD", "ip/FORWARD>ip/POSTROUTING",
                "ip/POSTROUTING>wire-out",
            ])
    }

    @Test func laterPacketOfAConnectionSkipsNat() throws {
        let t = try Self.traced("captures/libvirt-nat.dmesg", [(nil, "captures/libvirt-nat.nvL")], packet: 3)
        #expect(t.walk.connection == 1)
        let d = FlowLayout.diagram(family: .ipv4, walk: t.walk, ruleset: t.ruleset)
        let nat = d.boxes.flatMap { box in box.slots.filter { $0.name == "nat" }.map { (box.id, $0.state) } }
        let skipped = FlowDiagram.SlotState.skipped(.natFirstPacketOnly(connection: 1))
        #expect(nat.filter { $0.1 == skipped }.map(\.0) == ["ip/PREROUTING", "ip/POSTROUTING"])
        let text = FlowText.render(d)
        #expect(text.contains("(a) nat (dst) at PREROUTING, nat (src) at POSTROUTING skipped: nat chains see only"))
        Self.expectFits(text)
        try assertGolden(text, named: "flow/ipv4-later-packet.txt")
    }

    @Test func replyShowsConntracksDeNatOnTheSkippedNatTable() throws {
        let t = try Self.traced("captures/libvirt-nat.dmesg", [(nil, "captures/libvirt-nat.nvL")], packet: 2)
        let d = FlowLayout.diagram(family: .ipv4, walk: t.walk, ruleset: t.ruleset)
        let natPre = try #require(d.box("ip/PREROUTING")?.slots.first { $0.name == "nat" })
        #expect(natPre.state == .skipped(.natFirstPacketOnly(connection: 1)))
        #expect(natPre.nat == ["DST 10.44.0.1:42954 → 192.168.122.17:42954 (reverse MASQUERADE, by conntrack)"])
    }

    @Test func ipv6Walk() throws {
        let t = try Self.traced("captures/ipv6.dmesg", [(nil, "captures/ipv6.nvL")])
        #expect(FlowDiagram.Family(for: t.walk) == .ipv6)
        let text = FlowText.render(FlowLayout.diagram(family: .ipv6, walk: t.walk, ruleset: t.ruleset))
        Self.expectFits(text)
        try assertGolden(text, named: "flow/ipv6-walk.txt")
    }

    /// ebtables LOG lines (prefix `TRACE: eb:nat:PREROUTING`) are numbered in their ebtables slots.
    @Test func ebtablesLogStepsHaveTheirSlots() throws {
        let t = try Self.traced("real-captures/05-docker-bridge-c2c-ebtables-physdev.log", [])
        let d = FlowLayout.diagram(family: .bridge, walk: t.walk, ruleset: t.ruleset)
        let pre = d.box("bridge/PREROUTING")?.slots ?? []
        #expect(pre.map(\.steps) == [[1], [2], []])
        #expect(d.box("bridge/FORWARD")?.slots.first { $0.name == "filter" }?.steps == [5])
        #expect(d.box("bridge/POSTROUTING")?.slots.first { $0.name == "nat" }?.steps == [13])
        #expect(d.box("ip/PREROUTING")?.slots.first { $0.name == "raw" }?.steps == [3])
    }

    @Test func bridgedWalkRunsInBrNetfiltersIPHooks() throws {
        let t = try Self.traced("captures/bridge.dmesg", [(nil, "captures/bridge.nvL")])
        #expect(FlowDiagram.Family(for: t.walk) == .bridge)
        let d = FlowLayout.diagram(family: .bridge, walk: t.walk, ruleset: t.ruleset)
        #expect(Set(d.numberedSlots.map(\.box)) == ["ip/PREROUTING", "ip/FORWARD", "ip/POSTROUTING"])
        let handOffs = d.edges.filter { $0.style == .handOff }
        #expect(handOffs.count == 3 && handOffs.allSatisfy { $0.walked })
        let bridgeSlots = d.box("bridge/PREROUTING")?.slots ?? []
        #expect(bridgeSlots.count == 3 && bridgeSlots.allSatisfy { $0.state == .passed })
        let text = FlowText.render(d)
        Self.expectFits(text)
        try assertGolden(text, named: "flow/bridge-walk.txt")
    }

    @Test func inetWalkGivesNftBaseChainsTheirOwnSlots() throws {
        let t = try Self.traced("captures/nft-monitor-forward.txt", [(nil, "captures/nft-monitor-forward.ruleset")])
        let d = FlowLayout.diagram(family: .inet, walk: t.walk, ruleset: t.ruleset)
        let pre = (d.box("ip/PREROUTING")?.slots ?? []).map { "\($0.label) \($0.priority)" }
        #expect(pre.first == "pt pre -301")
        #expect(pre.contains("prerouting -100"))
        #expect(d.box("ip/FORWARD")?.slots.first { $0.chain == "forward" }?.steps == [5, 6, 7])
        let text = FlowText.render(d)
        Self.expectFits(text)
        try assertGolden(text, named: "flow/inet-walk.txt")
    }

    @Test func rulesetMarksTablesWithoutAChainAtAHook() throws {
        let save = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\nCOMMIT\n"
        let ruleset = try RulesetParser.parse(save, defaultTable: nil, sourceName: "test")
        let d = FlowLayout.diagram(family: .ipv4, ruleset: ruleset)
        #expect(d.box("ip/OUTPUT")?.slots.first { $0.name == "filter" }?.state == .noChain)
        #expect(d.box("ip/FORWARD")?.slots.first { $0.name == "filter" }?.state == .idle)
        #expect(FlowText.render(d).contains("│   ∅ filter          0 │"))
    }

    /// The numbers in the boxes, read back from the text, list the timeline's steps in its order.
    @Test func numberedBoxesListTheTimelineSteps() throws {
        let t = try Self.seed()
        let d = FlowLayout.diagram(family: .ipv4, walk: t.walk, ruleset: t.ruleset)
        let timeline = TextTimeline(options: RenderOptions()).render(t.walk)
        let timelineSteps = timeline.split(separator: "\n").filter { $0.hasPrefix("  +") }.compactMap { line in
            line.split(separator: " ").first { $0.contains(":") && !$0.hasPrefix("+") }.map(String.init)
        }
        #expect(timelineSteps.count == t.walk.steps.count)
        #expect(timelineSteps == t.walk.steps.map { "\($0.event.table):\($0.event.chain)" })

        // The model: each number in a slot of a hook box.
        let model = d.numberedSlots.map { n -> String in
            let chain = n.box.split(separator: "/").last.map(String.init) ?? ""
            return "\(n.slot):\(chain)"
        }
        #expect(d.numberedSlots.map(\.number) == Array(1...t.walk.steps.count))
        #expect(model == timelineSteps)

        // The picture: read each box's rows off the text at the box's position.
        let lines = FlowText.render(d).split(separator: "\n", omittingEmptySubsequences: false).map(Array.init)
        var drawn: [(Int, String)] = []
        for box in d.boxes where !box.slots.isEmpty {
            let hook = box.id.split(separator: "/").last.map(String.init) ?? ""
            for row in 0..<box.slots.count {
                let line = lines[box.origin.y + 3 + row]
                let cells = String(line[(box.origin.x + 1)..<min(line.count, box.maxX)])
                let fields = cells.split(separator: " ")
                guard let mark = fields.first, let n = Int(mark) else { continue }
                let table = String(fields[1])
                drawn.append((n, "\(table):\(hook)"))
            }
        }
        #expect(drawn.sorted { $0.0 < $1.0 }.map(\.1) == timelineSteps)

        // The key under the diagram: the same steps, the same order.
        let key = FlowText.render(d).split(separator: "\n").compactMap { line -> String? in
            let f = line.split(separator: " ")
            guard f.count >= 2, Int(f[0]) != nil, f[1].contains(":") else { return nil }
            return String(f[1])
        }
        #expect(key == timelineSteps)
    }

    /// Every walk of every capture draws within 100 columns, each drawn step in the box of its hook.
    @Test func everyCapturedWalkDraws() throws {
        let dir = Fixtures.url("captures")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
            $0.hasSuffix(".dmesg")
                || ($0.hasPrefix("nft-monitor") || $0.hasPrefix("xtables-monitor")) && $0.hasSuffix(".txt")
        }.map { "captures/" + $0 }
        let real = try FileManager.default.contentsOfDirectory(atPath: Fixtures.url("real-captures").path).map {
            "real-captures/" + $0
        }
        var drawn = 0
        for file in (names + real).sorted() {
            for walk in try ReplayHarness.run([file]).walks {
                let d = FlowLayout.diagram(family: FlowDiagram.Family(for: walk), walk: walk)
                let text = FlowText.render(d)
                Self.expectFits(text)
                let plain = FlowText.render(d, ascii: true).unicodeScalars.allSatisfy { $0.isASCII }
                #expect(plain, "\(file) packet \(walk.packet)")
                let placed = d.walk?.steps.filter { $0.box != nil }.map(\.number) ?? []
                #expect(d.numberedSlots.map(\.number) == placed, "\(file) packet \(walk.packet)")
                for n in d.numberedSlots {
                    let step = walk.steps[n.number - 1]
                    let hook = step.hook == .brouting ? Hook.prerouting : step.hook
                    #expect(
                        n.box.hasSuffix("/" + (hook?.rawValue ?? "?")), "\(file) packet \(walk.packet) step \(n.number)"
                    )
                }
                drawn += 1
            }
        }
        #expect(drawn > 50)
    }

    // MARK: - SVG and DOT

    static let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("pathtrace-flow-tests")

    static func diagrams() throws -> [(String, FlowDiagram)] {
        let bridge = try traced("captures/bridge.dmesg", [(nil, "captures/bridge.nvL")])
        return try [("seed-001", seedDiagram())]
            + FlowDiagram.Family.allCases.map { ($0.rawValue, FlowLayout.diagram(family: $0)) }
            + [("bridge-walk", FlowLayout.diagram(family: .bridge, walk: bridge.walk, ruleset: bridge.ruleset))]
    }

    @Test func svgIsValidXMLAndRendersToPNG() throws {
        try FileManager.default.createDirectory(at: Self.scratch, withIntermediateDirectories: true)
        for (name, d) in try Self.diagrams() {
            let svg = FlowSVG.render(d)
            let svgURL = Self.scratch.appendingPathComponent("\(name).svg")
            let pngURL = Self.scratch.appendingPathComponent("\(name).png")
            try svg.write(to: svgURL, atomically: true, encoding: .utf8)
            let lint = try Tool.run(["xmllint", "--noout", svgURL.path])
            #expect(lint.status == 0, "xmllint \(name): \(lint.stderr)")
            try? FileManager.default.removeItem(at: pngURL)
            let png = try Tool.run(["rsvg-convert", "--width", "1200", "--output", pngURL.path, svgURL.path])
            #expect(png.status == 0, "rsvg-convert \(name): \(png.stderr)")
            let bytes = [UInt8]((try? Data(contentsOf: pngURL)) ?? Data())
            #expect(bytes.starts(with: [0x89, 0x50, 0x4E, 0x47]), "\(name).png is not a PNG")
        }
    }

    @Test func svgIsSelfContained() throws {
        for (name, d) in try Self.diagrams() {
            let svg = FlowSVG.render(d)
            #expect(!svg.contains("<script"), "\(name)")
            #expect(!svg.contains("href"), "\(name)")
            #expect(!svg.contains("@font-face") && !svg.contains("<image"), "\(name)")
            let fonts = Set(svg.components(separatedBy: "font-family=\"").dropFirst().map { $0.prefix { $0 != "\"" } })
            #expect(fonts.isSubset(of: ["monospace", "sans-serif"]), "\(name): \(fonts)")
            #expect(svg.contains("width=\"1200\""), "\(name)")
        }
    }

    @Test func dotRendersWithGraphviz() throws {
        for (name, d) in try Self.diagrams() {
            let dot = FlowDot.render(d)
            #expect(dot.hasPrefix("digraph flow {\n"))
            let rendered = try Tool.run(["dot", "-Tsvg"], stdin: Data(dot.utf8))
            #expect(rendered.status == 0, "dot \(name): \(rendered.stderr)")
            #expect(rendered.stdout.contains("<svg"), "\(name)")
        }
    }
}
