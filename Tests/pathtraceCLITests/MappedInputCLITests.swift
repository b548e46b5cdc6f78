import Foundation
import TestSupport
import Testing

/// `replay FILE` maps the file and parses it in place; `replay -` reads a pipe. Both must print the
/// same walks, also for a file of several mapping windows, an empty file and a last line without newline.
@Suite struct MappedInputCLITests {
    /// `cat FILE | pathtrace replay ARGS -`: standard input as a pipe, as `dmesg | pathtrace replay -`.
    static func piped(_ file: String, _ arguments: [String]) throws -> CLIResult {
        let quoted = ([CLI.binary.path, "replay"] + arguments + ["-"]).map { "'\($0)'" }.joined(separator: " ")
        return try Tool.run(["sh", "-c", "cat '\(file)' | \(quoted)"])
    }

    /// What the pipe prints, with its lines cited by the file's name (`stdin:3` → `FILE:3`).
    static func asFile(_ piped: CLIResult, _ file: String) -> CLIResult {
        var r = piped
        r.stdout = r.stdout.replacingOccurrences(of: "\"source\":\"stdin:", with: "\"source\":\"\(file):")
        r.stderr = r.stderr.replacingOccurrences(of: "stdin:", with: "\(file):")
        return r
    }

    static func temporary(_ data: Data) throws -> String {
        let path = NSTemporaryDirectory() + "pt-mapped-cli-\(UUID().uuidString).log"
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test(arguments: [
        ["--format", "json"], ["--no-color"], ["--no-color", "--explain"],
    ])
    func fileAndPipeGiveTheSameWalks(_ arguments: [String]) throws {
        for file in [
            "Fixtures/seed/001-libvirt-nat.dmesg", "Fixtures/captures/interleaved.dmesg",
            "Fixtures/captures/nft-monitor-forward.txt", "Fixtures/captures/xtables-monitor-forward.txt",
        ] {
            let mapped = try CLI.run(["replay"] + arguments + [file])
            let piped = Self.asFile(try Self.piped(file, arguments), file)
            #expect(mapped.status == 0, "\(file): \(mapped.stderr)")
            #expect(mapped.stdout.contains("packet 1 ") || mapped.stdout.contains("\"packet\":1,"), "\(file)")
            #expect(mapped.stdout == piped.stdout, "\(file)")
            #expect(mapped.stderr == piped.stderr, "\(file)")
        }
    }

    /// Three windows of the mapping (1 MiB each), each ending inside a line.
    @Test func fileOfSeveralWindowsGivesWhatThePipeGives() throws {
        let capture = try Data(contentsOf: Fixtures.url("captures/interleaved.dmesg"))
        let path = try Self.temporary(Data(Array(repeating: capture, count: 30).joined()))
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(capture.count * 30 > 2 << 20)
        let mapped = try CLI.run(["replay", "--format", "json", path])
        let piped = Self.asFile(try Self.piped(path, ["--format", "json"]), path)
        #expect(mapped.status == 0)
        #expect(mapped.stdout.count > 500_000)
        #expect(mapped.stdout == piped.stdout)
        #expect(mapped.stderr == piped.stderr)
    }

    @Test func emptyFileHasNoWalks() throws {
        let path = try Self.temporary(Data())
        defer { try? FileManager.default.removeItem(atPath: path) }
        let r = try CLI.run(["replay", path])
        #expect(r.status == 0)
        #expect(r.stdout == "")
        #expect(r.stderr == "pathtrace: 0 events, 0 walks (0 incomplete), 0 lines skipped\n")
    }

    @Test func lastLineWithoutNewlineIsRead() throws {
        let seed = "Fixtures/seed/001-libvirt-nat.dmesg"
        var text = try Fixtures.text(String(seed.dropFirst("Fixtures/".count)))
        #expect(text.hasSuffix("\n"))
        text.removeLast()
        let path = try Self.temporary(Data(text.utf8))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let whole = try CLI.run(["replay", "--format", "json", seed])
        let cut = try CLI.run(["replay", "--format", "json", path])
        #expect(cut.status == 0)
        #expect(cut.stdout.replacingOccurrences(of: path, with: seed) == whole.stdout)
        #expect(cut.stderr == whole.stderr)
        let piped = Self.asFile(try Self.piped(path, ["--format", "json"]), path)
        #expect(piped.stdout == cut.stdout)
    }
}
