import Foundation
import TestSupport
import Testing

/// `lab run --explain --show-flow` live: every walk gets its sentences and its diagram, and for each lab
/// walk the timeline, `--explain` and the diagram's numbered steps list the same steps in the same order.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to build the lab's namespaces"))
struct ShowFlowLiveCLITests {
    /// One walk as printed: the timeline's `table:chain`s, how many sentences, the diagram's numbered steps.
    struct Printed {
        var header: String
        var timeline: [String] = []
        var sentences = 0
        var flow: [String] = []
    }

    static func parse(_ stdout: String) -> [Printed] {
        var walks: [Printed] = []
        var inDiagram = false
        for line in stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("pathtrace flow — ") {
                inDiagram = true
            } else if line.hasPrefix("packet "),
                !inDiagram || line.contains("netns") && walks.last?.flow.isEmpty == false
            {
                inDiagram = false
                walks.append(Printed(header: line))
            } else if inDiagram {
                let words = line.split(separator: " ")
                if words.count >= 2, Int(words[0]) != nil, words[1].contains(":") {
                    walks[walks.count - 1].flow.append(String(words[1]))
                }
            } else if !walks.isEmpty, line.count > 26, line.hasPrefix("  ") {
                // A step: time (or blanks), hook (or blanks) and `table:chain` from column 25.
                // A sentence: 13 blanks, then a capital that does not begin such a step.
                let chars = Array(line)
                let word = String(chars[25...].prefix { $0 != " " })
                if word.contains(":") && chars[24] == " " {
                    walks[walks.count - 1].timeline.append(word)
                } else if chars[..<13].allSatisfy({ $0 == " " }), chars[13].isUppercase {
                    walks[walks.count - 1].sentences += 1
                }
            }
        }
        return walks
    }

    @Test func labRunShowsEachWalkExplainedAndOnTheDiagram() throws {
        let prefix = "ptsf\(ProcessInfo.processInfo.processIdentifier % 100_000)"
        let lab = try Fixtures.labFile("libvirt-nat", prefix: prefix)
        defer { _ = try? CLI.run(["lab", "down", lab]) }
        let r = try CLI.run(["lab", "run", lab, "--explain", "--show-flow", "--no-color"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("lab check: the trace shows the walk the lab expects"))
        #expect(
            r.stdout.contains(
                "The routing decision found 10.44.32.217 is another host's address, reached through bond0, so with "
                    + "forwarding on the packet goes to FORWARD (ip_forward lowered the TTL by one first)"))
        #expect(r.stdout.contains("Conntrack finds this packet is a reply in the connection packet 1 opened"))
        let walks = Self.parse(r.stdout)
        #expect(walks.count >= 3)
        for walk in walks {
            #expect(!walk.timeline.isEmpty, "\(walk.header)")
            #expect(walk.timeline == walk.flow, "\(walk.header)")
            #expect(walk.sentences == walk.timeline.count, "\(walk.header)")
        }
    }
}
