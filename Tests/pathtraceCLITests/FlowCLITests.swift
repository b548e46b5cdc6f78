import Foundation
import TestSupport
import Testing

/// `pathtrace flow` as a user runs it.
@Suite struct FlowCLITests {
    static let seedArgs = [
        "flow", "--trace", "Fixtures/seed/001-libvirt-nat.dmesg", "--ruleset", "filter=Fixtures/seed/001-filter.nvL",
        "--ruleset", "nat=Fixtures/seed/001-nat.nvL",
    ]

    @Test func seedWalkIsTheLibrarysDiagram() throws {
        let r = try CLI.run(Self.seedArgs)
        #expect(r.status == 0, "\(r.stderr)")
        try assertGolden(r.stdout, named: "flow/ipv4-seed-001.txt")
    }

    @Test func laterPacketAndFamilyChoice() throws {
        let r = try CLI.run([
            "flow", "--trace", "Fixtures/captures/libvirt-nat.dmesg", "--packet", "3", "--ruleset",
            "Fixtures/captures/libvirt-nat.nvL",
        ])
        #expect(r.status == 0, "\(r.stderr)")
        try assertGolden(r.stdout, named: "flow/ipv4-later-packet.txt")
        let bridged = try CLI.run(["flow", "--trace", "Fixtures/captures/bridge.dmesg"])
        #expect(bridged.stdout.hasPrefix("pathtrace flow — bridge:"))
    }

    @Test func formats() throws {
        let svg = try CLI.run(Self.seedArgs + ["--format", "svg"])
        #expect(svg.status == 0)
        #expect(svg.stdout.hasPrefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "))
        let dot = try CLI.run(["flow", "--family", "bridge", "--format", "dot"])
        #expect(dot.status == 0)
        #expect(dot.stdout.hasPrefix("digraph flow {"))
        let ascii = try CLI.run(["flow", "--family", "ipv6", "--ascii"])
        #expect(ascii.status == 0)
        try assertGolden(ascii.stdout, named: "flow/ipv6-ascii.txt")
    }

    @Test func helpTeaches() throws {
        let r = try CLI.run(["flow", "--help"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("raw -300, conntrack -200,"))
        #expect(r.stdout.contains("Examples:"))
        #expect(r.stdout.contains("pathtrace flow --trace t.log --packet 3 --format svg > walk.svg"))
        let root = try CLI.run(["--help"])
        #expect(root.stdout.contains("flow"))
    }

    @Test func badValuesExit2NamingTheFlag() throws {
        let family = try CLI.run(["flow", "--family", "arp"])
        #expect(family.status == 2)
        #expect(family.stderr.contains("--family"))
        let packet = try CLI.run(Self.seedArgs + ["--packet", "9"])
        #expect(packet.status == 2)
        #expect(packet.stderr.contains("--packet"))
        let zero = try CLI.run(Self.seedArgs + ["--packet", "0"])
        #expect(zero.status == 2)
        let missing = try CLI.run(["flow", "--trace", "/nonexistent/trace.log"])
        #expect(missing.status == 1)
    }
}
