import Foundation
import TestSupport
import Testing

/// The text timeline and JSON Lines a user sees, pinned by golden files (RECORD_GOLDEN=1 rewrites them).
@Suite struct GoldenTimelineTests {
    static let seedArgs = [
        "replay", "Fixtures/seed/001-libvirt-nat.dmesg", "--ruleset", "Fixtures/seed/001-filter.nvL", "--ruleset",
        "Fixtures/seed/001-nat.nvL",
    ]

    @Test func seedTimeline() throws {
        let r = try CLI.run(Self.seedArgs + ["--no-color"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("TTL 64 → 63"))
        #expect(
            r.stdout.contains("NAT  SRC 192.168.122.17:42954 → ?  (MASQUERADE, nat:POSTROUTING rule 3; evidence rule)"))
        try assertGolden(r.stdout, named: "seed-001.txt")
        #expect(r.stderr == "pathtrace: 7 events, 1 walk (0 incomplete), 0 lines skipped\n")
    }

    @Test func seedJSONFollowsTheContract() throws {
        let r = try CLI.run(Self.seedArgs + ["--format", "json"])
        #expect(r.status == 0)
        try assertGolden(r.stdout, named: "seed-001.jsonl")
        let lines = r.stdout.split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
        #expect(object["path"] as? String == "forward")
        #expect(object["verdict"] as? String == "accept")
        #expect(object["family"] as? String == "ipv4")
        let flow = try #require(object["flow"] as? [String: Any])
        #expect(flow["proto"] as? String == "tcp")
        #expect(flow["sport"] as? Int == 42954)
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.count == 7)
        #expect(steps[0]["time"] as? Double == 5121056.357116)
        #expect(steps[0]["kind"] as? String == "policy")
        #expect(steps[0]["rule"] as? Int == 3)
        #expect(steps[0]["in"] as? String == "virbr0")
        #expect(steps[3]["ttl"] as? Int == 63)
        #expect(steps[0]["source"] as? String == "Fixtures/seed/001-libvirt-nat.dmesg:1")
        let nat = try #require((object["nat"] as? [[String: Any]])?.first)
        #expect(nat["type"] as? String == "masquerade")
        #expect(nat["field"] as? String == "src")
        #expect(nat["before"] as? String == "192.168.122.17:42954")
        #expect(nat["after"] is NSNull)
        #expect(nat["evidence"] as? String == "rule")
    }

    @Test func libvirtCaptureTimeline() throws {
        let r = try CLI.run([
            "replay", "Fixtures/captures/libvirt-nat.dmesg", "--ruleset", "Fixtures/captures/libvirt-nat.rules",
            "--no-color",
        ])
        #expect(r.status == 0)
        try assertGolden(r.stdout, named: "libvirt-nat.txt")
    }

    @Test func nftMonitorTimeline() throws {
        let r = try CLI.run(["replay", "Fixtures/captures/nft-monitor-forward.txt", "--no-color"])
        #expect(r.status == 0)
        try assertGolden(r.stdout, named: "nft-monitor-forward.txt")
    }

    /// A trace pathtrace's nft backend made: its own table's steps fold into one line (all with --verbose),
    /// in text and JSON alike, and `nft monitor trace` (no time at all) prints no time column.
    @Test func ownNftStepsFold() throws {
        let file = "Fixtures/captures/nft-monitor-libvirt-nat-nft.txt"
        let text = try CLI.run(["replay", file, "--no-color"])
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines[1] == "  traced from pathtrace_6fa2f802 (prerouting: 2 steps; --verbose shows them)")
        #expect(lines[2].hasPrefix("  PREROUTING  raw:PREROUTING         policy       accept     in virbr0  TTL 64"))
        #expect(!text.stdout.contains("pathtrace_6fa2f802:"))
        #expect(!text.stdout.contains("+0.0"))

        let verbose = try CLI.run(["replay", file, "--no-color", "--verbose"])
        #expect(!verbose.stdout.contains("traced from"))
        #expect(
            verbose.stdout.contains("  PREROUTING  pathtrace_6fa2f802:prerouting rule #4      continue   in virbr0"))

        let json = try CLI.run(["replay", file, "--format", "json"])
        let first = try #require(json.stdout.split(separator: "\n").first)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        let steps = try #require(object["steps"] as? [[String: Any]])
        #expect(steps.first?["table"] as? String == "raw")
        #expect(!steps.contains { ($0["table"] as? String)?.hasPrefix("pathtrace_") == true })
        let from = try #require(object["traced_from"] as? [String: Any])
        #expect(from["table"] as? String == "pathtrace_6fa2f802")
        #expect(from["steps"] as? Int == 2)
        let all = try CLI.run(["replay", file, "--format", "json", "--verbose"])
        #expect(all.stdout.split(separator: "\n").first?.contains(#""table":"pathtrace_6fa2f802""#) == true)
    }

    @Test func explainTeachesTheHooks() throws {
        let r = try CLI.run(Self.seedArgs + ["--no-color", "--explain"])
        #expect(r.status == 0)
        try assertGolden(r.stdout, named: "seed-001-explain.txt")
        #expect(
            r.stdout.contains(
                "The routing decision found 10.44.32.217 is another host's address, reached through bond0"))
    }

    @Test func filtersSelectWalks() throws {
        let all = try CLI.run(["replay", "Fixtures/captures/interleaved.dmesg", "--format", "json"])
        let icmp = try CLI.run(["replay", "Fixtures/captures/interleaved.dmesg", "--format", "json", "--proto", "icmp"])
        let port = try CLI.run([
            "replay", "Fixtures/captures/interleaved.dmesg", "--format", "json", "--sport", "40002",
        ])
        let allCount = all.stdout.split(separator: "\n").count
        let icmpCount = icmp.stdout.split(separator: "\n").count
        #expect(allCount > icmpCount && icmpCount > 0)
        #expect(icmp.stdout.split(separator: "\n").allSatisfy { $0.contains("\"proto\":\"icmp\"") })
        #expect(port.stdout.split(separator: "\n").allSatisfy { $0.contains("40002") })
        #expect(icmp.stderr.contains("shown after filtering"))
    }
}
