import Foundation
import TestSupport
import Testing

/// The exit codes are defined once (ExitStatus); what `--help` prints and the README's table must say the
/// same, and the codes the commands return must be the ones listed.
@Suite struct ExitStatusCLITests {
    /// `N  meaning` from the help's "Exit codes:" block.
    static func helpLines() throws -> [String] {
        let help = try CLI.run(["--help"]).stdout.split(separator: "\n").map(String.init)
        guard let start = help.firstIndex(of: "Exit codes:") else { return [] }
        return help[(start + 1)...].prefix { $0.hasPrefix("  ") }.map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// `N  meaning` from the README's `| N | meaning |` rows under "## Exit codes".
    static func readmeLines() throws -> [String] {
        let readme = try String(
            contentsOf: Fixtures.root.deletingLastPathComponent().appendingPathComponent("README.md"), encoding: .utf8)
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let start = lines.firstIndex(of: "## Exit codes") else { return [] }
        return lines[(start + 1)...].prefix { !$0.hasPrefix("## ") }
            .filter { $0.hasPrefix("| ") && $0.first(where: \.isNumber) == $0.dropFirst(2).first }
            .map { row in
                let cells = row.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                return "\(cells[0])  \(cells[1])"
            }
    }

    @Test func helpAndReadmeListTheSameCodes() throws {
        let help = try Self.helpLines()
        #expect(help.map { $0.prefix(1) } == ["0", "1", "2", "3", "4"])
        #expect(try Self.readmeLines() == help)
    }

    @Test func commandsExitWithTheListedCodes() throws {
        #expect(try CLI.run(["replay", "/nonexistent/pathtrace-input"]).status == 1)
        let usage = try CLI.run(["replay", "--dport", "0", "-"], stdin: Data())
        #expect(usage.status == 2 && usage.stderr.contains("--dport"))
        let strict = try CLI.run(["replay", "--strict", "-"], stdin: Data("not a trace line\n".utf8))
        #expect(strict.status == 3)
    }
}
