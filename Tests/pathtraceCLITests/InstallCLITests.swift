import Foundation
import TestSupport
import Testing

/// What `make install` gives a user: the man page (current with the commands' definitions, rendering
/// without warnings), shell completions that complete, and the files in their places.
@Suite struct InstallCLITests {
    static let repo = Fixtures.root.deletingLastPathComponent()
    static let manPage = repo.appendingPathComponent("docs/pathtrace.1").path

    @Test func theManPageIsTheOneTheDefinitionsGenerate() throws {
        let generator = Self.repo.appendingPathComponent(".build/debug/generate-manual").path
        try #require(
            FileManager.default.isExecutableFile(atPath: generator),
            "build it first: swift build --product generate-manual (make test does)")
        let committed = try String(contentsOfFile: Self.manPage, encoding: .utf8)
        let date = try #require(committed.split(separator: "\n").first { $0.hasPrefix(".Dd ") }).dropFirst(4)
        let iso = try Tool.output(["date", "-d", String(date), "+%F"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let raw = try Tool.run(
            [generator, "scripts/make-man.py", "--date", iso, "-o", "-"],
            environment: ["PATHTRACE_BIN": CLI.binary.path])
        #expect(raw.status == 0, "\(raw.stderr)")
        let page = try Tool.run(
            ["python3", "scripts/make-man.py", "docs/pathtrace.1.extra"], stdin: Data(raw.stdout.utf8))
        #expect(page.status == 0, "\(page.stderr)")
        #expect(page.stdout == committed, "docs/pathtrace.1 is out of date: run `make man`")
    }

    @Test func theManPageRendersWithoutWarningsAndListsTheExitCodes() throws {
        let man = try Tool.run(
            ["man", "--warnings", "-l", Self.manPage], environment: ["MANWIDTH": "80"])
        #expect(man.status == 0)
        #expect(man.stderr.isEmpty, "\(man.stderr)")
        let text = man.stdout
        for section in ["SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "EXAMPLES", "JSON OUTPUT", "SEE ALSO"] {
            #expect(text.contains("\n\(section)\n"), "no \(section) section")
        }
        for command in ["trace", "replay", "topology", "flow", "lab", "cleanup"] {
            #expect(text.contains("\n     \(command)"), "subcommand \(command) missing")
        }
        // The flow diagram's symbols survive the generator, which would drop them.
        #expect(text.contains("NAT rewrites (✎)"))
        // The exit codes the page lists are the ones `pathtrace --help` states.
        let help = try CLI.run(["--help"]).stdout
        let stated = Self.statedCodes(help)
        let listed = Self.listedCodes(text)
        #expect(stated == [0, 1, 2, 3, 4])
        #expect(listed == stated)
    }

    /// The codes of the help's `Exit codes:` list (`  0  ok`, a line each, from ExitStatus).
    static func statedCodes(_ help: String) -> Set<Int> {
        guard let start = help.range(of: "Exit codes:\n") else { return [] }
        let lines = help[start.upperBound...].split(separator: "\n").prefix { $0.hasPrefix("  ") }
        return Set(lines.compactMap { Int($0.split(separator: " ").first ?? "") })
    }

    /// The tags of the man page's EXIT STATUS list (`     0     Success.`), up to the next section.
    static func listedCodes(_ page: String) -> Set<Int> {
        guard let start = page.range(of: "\nEXIT STATUS\n") else { return [] }
        let lines = page[start.upperBound...].split(separator: "\n").prefix { $0.first == " " }
        return Set(lines.compactMap { Int($0.split(separator: " ").first ?? "") })
    }

    @Test func bashCompletesSubcommandsAndFlags() throws {
        let script = try CLI.run(["--generate-completion-script", "bash"])
        #expect(script.status == 0)
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pt-completion-\(getpid()).bash")
        try script.stdout.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        #expect(try Tool.run(["bash", "-n", file.path]).status == 0)
        // Completion as bash runs it: the words typed so far, the function the script registered.
        func complete(_ words: [String]) throws -> [String] {
            let program = """
                PATH=\(CLI.binary.deletingLastPathComponent().path):$PATH
                source \(file.path)
                COMP_WORDS=(\(words.map { "'\($0)'" }.joined(separator: " ")))
                COMP_CWORD=\(words.count - 1)
                COMP_LINE='\(words.joined(separator: " "))'
                COMP_POINT=${#COMP_LINE}
                fn=$(complete -p pathtrace | sed -E 's/.*-F ([^ ]+).*/\\1/')
                "$fn" pathtrace "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                printf '%s\\n' "${COMPREPLY[@]}"
                """
            let r = try Tool.run(["bash", "-c", program])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.split(separator: "\n").map(String.init)
        }
        #expect(try complete(["pathtrace", "rep"]) == ["replay"])
        #expect(try complete(["pathtrace", "replay", "--top"]).contains("--topology"))
        #expect(try complete(["pathtrace", "trace", "--back"]).contains("--backend"))
    }

    @Test func makeInstallPutsBinaryManPageCompletionsAndLabsUnderThePrefix() throws {
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("pt-install-\(getpid())")
        defer { try? FileManager.default.removeItem(at: prefix) }
        let make = try Tool.run(["make", "-s", "install-files", "PREFIX=\(prefix.path)", "BIN=\(CLI.binary.path)"])
        #expect(make.status == 0, "\(make.stderr)")
        let installed = [
            "bin/pathtrace", "share/man/man1/pathtrace.1", "share/bash-completion/completions/pathtrace",
            "share/zsh/site-functions/_pathtrace", "share/fish/vendor_completions.d/pathtrace.fish",
            "share/pathtrace/labs/libvirt-nat.json",
        ]
        for path in installed {
            let attributes = try? FileManager.default.attributesOfItem(atPath: prefix.appendingPathComponent(path).path)
            #expect(((attributes?[.size] as? Int) ?? 0) > 0, "\(path) not installed")
        }
        // The installed binary finds the installed labs (not the source tree's: the prefix is outside it).
        let list = try Tool.run(
            [prefix.appendingPathComponent("bin/pathtrace").path, "lab", "list"])
        #expect(list.status == 0)
        #expect(list.stdout.hasPrefix("# \(prefix.appendingPathComponent("share/pathtrace/labs").path)\n"))
        #expect(list.stdout.contains("libvirt-nat"))
        let uninstall = try Tool.run(["make", "-s", "uninstall", "PREFIX=\(prefix.path)"])
        #expect(uninstall.status == 0)
        for path in installed {
            #expect(!FileManager.default.fileExists(atPath: prefix.appendingPathComponent(path).path))
        }
    }
}
