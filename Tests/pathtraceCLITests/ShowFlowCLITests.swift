import Foundation
import TestSupport
import Testing

/// `replay --show-flow`: each walk's timeline, then the diagram `pathtrace flow --trace` draws for it.
@Suite struct ShowFlowCLITests {
    static let seed = [
        "Fixtures/seed/001-libvirt-nat.dmesg", "--ruleset", "Fixtures/seed/001-filter.nvL", "--ruleset",
        "Fixtures/seed/001-nat.nvL",
    ]

    @Test func replayShowFlowIsTheTimelineThenTheFlowDiagram() throws {
        let timeline = try CLI.run(["replay"] + Self.seed + ["--no-color"])
        let flow = try CLI.run(["flow", "--trace"] + Self.seed)
        let shown = try CLI.run(["replay"] + Self.seed + ["--no-color", "--show-flow"])
        #expect(shown.status == 0)
        #expect(shown.stdout == timeline.stdout + flow.stdout + "\n")
    }

    @Test func everyWalkGetsItsDiagram() throws {
        let r = try CLI.run([
            "replay", "Fixtures/captures/libvirt-nat.dmesg", "--ruleset", "Fixtures/captures/libvirt-nat.rules",
            "--show-flow", "--ascii", "--no-color",
        ])
        #expect(r.status == 0)
        let plain = try CLI.run([
            "replay", "Fixtures/captures/libvirt-nat.dmesg", "--ruleset", "Fixtures/captures/libvirt-nat.rules",
        ])
        let walks = plain.stdout.split(separator: "\n").filter { $0.hasPrefix("packet ") }.count
        #expect(walks > 1)
        #expect(r.stdout.components(separatedBy: "pathtrace flow - ipv4").count - 1 == walks)
        #expect(!r.stdout.contains("┃") && !r.stdout.contains("━") && !r.stdout.contains("─"))
    }

    @Test func showFlowIsTextOnly() throws {
        let r = try CLI.run(["replay"] + Self.seed + ["--show-flow", "--format", "json"])
        #expect(r.status == 2)
        #expect(r.stderr.contains("--show-flow"))
        let ascii = try CLI.run(["replay"] + Self.seed + ["--ascii"])
        #expect(ascii.status == 2)
    }
}
