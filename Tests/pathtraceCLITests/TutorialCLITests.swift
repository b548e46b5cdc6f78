import Foundation
import TestSupport
import Testing

/// docs/tutorial.md runs as written: every `$ pathtrace …` line of a ```console block is executed and what
/// the block shows under it appears in its output, in order (`…` stands for lines left out; a block
/// without `…` shows the whole output).
@Suite struct TutorialCLITests {
    struct Example: CustomStringConvertible {
        var command: [String]
        var shown: [String]
        var description: String { command.joined(separator: " ") }
    }

    static func examples() throws -> [Example] {
        let url = Fixtures.root.deletingLastPathComponent().appendingPathComponent("docs/tutorial.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        var examples: [Example] = []
        var inConsole = false
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("```") {
                inConsole = !inConsole && line == "```console"
                continue
            }
            guard inConsole else { continue }
            if line.hasPrefix("$ ") {
                let words = line.dropFirst(2).split(separator: " ").map(String.init)
                examples.append(Example(command: words, shown: []))
            } else if !examples.isEmpty {
                examples[examples.count - 1].shown.append(line)
            }
        }
        return examples
    }

    @Test func theTutorialHasAnExampleForEveryStep() throws {
        let commands = try Self.examples().map(\.description)
        #expect(commands.count >= 8)
        #expect(commands.allSatisfy { $0.hasPrefix("pathtrace ") })
        #expect(commands.contains { $0.contains("--explain --show-flow") })
        #expect(commands.contains { $0.hasPrefix("pathtrace flow --trace") })
    }

    /// docs/libvirt-nat-syn.svg, the picture the tutorial shows, is what `flow --format svg` draws today.
    @Test func theCommittedPictureIsCurrent() throws {
        let r = try CLI.run([
            "flow", "--trace", "Fixtures/captures/libvirt-nat.dmesg", "--ruleset",
            "Fixtures/captures/libvirt-nat.rules",
            "--format", "svg",
        ])
        #expect(r.status == 0)
        let url = Fixtures.root.deletingLastPathComponent().appendingPathComponent("docs/libvirt-nat-syn.svg")
        let committed = try String(contentsOf: url, encoding: .utf8)
        let same = committed == r.stdout
        #expect(same, "regenerate docs/libvirt-nat-syn.svg with the command in docs/tutorial.md")
    }

    @Test(arguments: try examples())
    func commandPrintsWhatTheTutorialShows(_ example: Example) throws {
        #expect(example.command.first == "pathtrace")
        let r = try CLI.run(Array(example.command.dropFirst()))
        #expect(r.status == 0, "\(example): \(r.stderr)")
        // The tutorial's blocks end at the last printed line: trailing blank lines are not shown.
        var actual = r.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        while actual.last == "" { actual.removeLast() }
        if !example.shown.contains("…") {
            let same = actual == example.shown
            #expect(same, "\(example) prints exactly what the tutorial shows")
            return
        }
        var at = 0
        for line in example.shown where line != "…" {
            guard let found = actual[at...].firstIndex(of: line) else {
                Issue.record("\(example): the tutorial shows a line it does not print (in this order):\n\(line)")
                return
            }
            at = found + 1
        }
    }
}
