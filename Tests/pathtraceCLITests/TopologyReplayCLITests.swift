import Foundation
import TestSupport
import Testing

/// `replay --topology` as a user runs it on a `--save` file of three namespaces: the timeline with each
/// walk's devices, and the journeys, pinned by golden files.
@Suite struct TopologyReplayCLITests {
    static let args = [
        "replay", "Fixtures/captures/journey-libvirt-nat.events.jsonl", "--topology",
        "Fixtures/captures/journey-libvirt-nat.topology.json",
    ]

    @Test func timelineWithDevicesAndJourneys() throws {
        let r = try CLI.run(Self.args + ["--no-color"])
        #expect(r.status == 0)
        #expect(r.stdout.contains("  device bond0   veth ⇄ ptlv-wan:eth0  10.44.0.1/24\n"))
        #expect(r.stdout.contains("journey 1  ptlv-vm → ptlv-host → ptlv-wan  (packets 1 → 11 → 21)\n"))
        try assertGolden(r.stdout, named: "journey-libvirt-nat.txt")
        #expect(
            r.stderr
                == "pathtrace: 112 events, 30 walks (0 incomplete), 0 lines skipped\npathtrace: 10 journeys across namespaces\n"
        )
    }

    @Test func journeysAreLinesOfTheirOwnInJSON() throws {
        let r = try CLI.run(Self.args + ["--format", "json"])
        #expect(r.status == 0)
        try assertGolden(r.stdout, named: "journey-libvirt-nat.jsonl")
        let objects = try r.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let journeys = objects.filter { $0["journey"] != nil }
        #expect(journeys.count == 10)
        #expect(journeys.first?["netns"] as? [String] == ["ptlv-vm", "ptlv-host", "ptlv-wan"])
        #expect(journeys.first?["walks"] as? [Int] == [1, 11, 21])
        let host = try #require(objects.first { $0["packet"] as? Int == 11 })
        let topology = try #require(host["topology"] as? [String: Any])
        let devices = try #require(topology["interfaces"] as? [[String: Any]])
        #expect(devices.map { $0["name"] as? String } == ["virbr0", "bond0"])
    }

    @Test func badTopologyOrNamespaceArgumentsSayWhat() throws {
        let missing = try CLI.run(["replay", "Fixtures/seed/001-libvirt-nat.dmesg", "--topology", "/nonexistent.json"])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("--topology: topology /nonexistent.json: cannot be read"))
        let notTopology = try CLI.run([
            "replay", "Fixtures/seed/001-libvirt-nat.dmesg", "--topology", "Fixtures/labs/libvirt-nat.json",
        ])
        #expect(notTopology.status == 1)
        let badNetns = try CLI.run(["replay", "--netns", "ptlv-host"])
        #expect(badNetns.status == 2)
        #expect(badNetns.stderr.contains("--netns: expected NAME=FILE, got 'ptlv-host'"))
        let named = try CLI.run([
            "replay", "--netns", "ptlv-host=Fixtures/seed/001-libvirt-nat.dmesg", "--format", "json",
        ])
        #expect(named.status == 0)
        #expect(named.stdout.contains("\"netns\":\"ptlv-host\""))
    }
}
