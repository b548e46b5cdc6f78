import Foundation
import Glibc
import TestSupport
import Testing

/// docs/tutorial.md's live commands run as written too: every `pathtrace lab run …` line of its ```sh
/// blocks, each lab from a copy with a prefix of this run's own (PATHTRACE_LABS), so a lab a reader left
/// up cannot collide; each passes its lab check and leaves no namespace behind.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to build the lab's namespaces"))
struct TutorialLabCLITests {
    static func labCommands() throws -> [[String]] {
        let url = Fixtures.root.deletingLastPathComponent().appendingPathComponent("docs/tutorial.md")
        let text = try String(contentsOf: url, encoding: .utf8)
        var inShell = false
        var commands: [[String]] = []
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") {
                inShell = !inShell && line == "```sh"
                continue
            }
            if inShell, line.hasPrefix("pathtrace lab run ") {
                commands.append(line.split(separator: " ").dropFirst().map(String.init))
            }
        }
        return commands
    }

    @Test func theTutorialsLabRunsPassTheirChecks() throws {
        let commands = try Self.labCommands()
        #expect(commands.count >= 3)
        let dir = NSTemporaryDirectory() + "pathtrace-tutorial-labs-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for (i, command) in commands.enumerated() {
            let name = command[2]
            let prefix = "ptu\(getpid() % 100_000)\(i)"
            _ = try Fixtures.labFile(name, prefix: prefix, in: dir)
            let r = try CLI.run(command, environment: ["PATHTRACE_LABS": dir])
            #expect(r.status == 0, "pathtrace \(command.joined(separator: " ")): \(r.stderr)")
            #expect(r.stderr.contains("lab check: the trace shows the walk the lab expects"))
            let left = try Tool.output(["ip", "netns", "list"]).split(separator: "\n").filter {
                $0.hasPrefix("\(prefix)-")
            }
            #expect(left.isEmpty)
        }
    }
}
