import Foundation
import Glibc
import TestSupport
import Testing

/// `pathtrace topology` as a user runs it, on the libvirt-nat lab built in namespaces of this run.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to build the lab's namespaces"))
struct TopologyCLITests {
    /// The lab file with a prefix of this run's own; returns its path and the namespaces' prefix.
    static func labFile() throws -> (String, String) {
        let prefix = "pttc\(ProcessInfo.processInfo.processIdentifier % 100_000)"
        return (try Fixtures.labFile("libvirt-nat", prefix: prefix), prefix)
    }

    @Test func jsonTextDotAndSaveOfTheLab() throws {
        let (lab, prefix) = try Self.labFile()
        defer { _ = try? CLI.run(["lab", "down", lab]) }
        let up = try CLI.run(["lab", "up", lab])
        try #require(up.status == 0, "lab up: \(up.stderr)")
        let names = ["vm", "host", "wan"].map { "\(prefix)-\($0)" }
        let args = ["topology"] + names.flatMap { ["--netns", $0] }

        let json = try CLI.run(args + ["--format", "json"])
        #expect(json.status == 0, "\(json.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["format"] as? Int == 1)
        let namespaces = try #require(object["namespaces"] as? [[String: Any]])
        #expect(namespaces.compactMap { $0["name"] as? String } == names)
        let hostLinks = try #require(namespaces[1]["links"] as? [[String: Any]])
        let vnet0 = try #require(hostLinks.first { $0["name"] as? String == "vnet0" })
        let peer = try #require(vnet0["peer"] as? [String: Any])
        #expect(peer["netns"] as? String == "\(prefix)-vm" && peer["ifname"] as? String == "eth0")
        #expect(vnet0["master"] as? String == "virbr0")
        let cables = try #require(object["cables"] as? [[String: Any]])
        #expect(cables.count == 2)

        let text = try CLI.run(args)
        #expect(text.status == 0)
        #expect(text.stdout.contains("virbr0  bridge (ports vnet0)  up  192.168.122.1/24"))
        #expect(text.stdout.contains("  \(prefix)-vm:eth0 ⇄ \(prefix)-host:vnet0\n"))

        let dot = try CLI.run(args + ["--format", "dot"])
        #expect(dot.status == 0)
        let svg = try Tool.run(["dot", "-Tsvg"], stdin: Data(dot.stdout.utf8))
        #expect(svg.status == 0, "dot -Tsvg: \(svg.stderr)")
        #expect(svg.stdout.contains("<svg"))

        let file = NSTemporaryDirectory() + "\(prefix)-topology.json"
        defer { try? FileManager.default.removeItem(atPath: file) }
        let saved = try CLI.run(args + ["--save", file])
        #expect(saved.status == 0)
        let written = try JSONSerialization.jsonObject(with: try Data(contentsOf: URL(fileURLWithPath: file)))
        #expect((written as? [String: Any])?["namespaces"] as? [[String: Any]] != nil)
    }

    @Test func anUnknownNamespaceExits2NamingTheFlag() throws {
        let missing = try CLI.run(["topology", "--netns", "ptnonexistent0"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("--netns") && missing.stderr.contains("ptnonexistent0"))
        let bad = try CLI.run(["topology", "--netns", "a/b"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("--netns"))
        let format = try CLI.run(["topology", "--format", "svg"])
        #expect(format.status == 2)
    }

    @Test func otherNamespacesNeedNetAdminTheCurrentOneDoesNot() throws {
        let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", CLI.binary.path, "topology"]
        let denied = try Tool.run(nobody + ["--netns", "ptnonexistent0"])
        #expect(denied.status == 4)
        #expect(denied.stderr.contains("CAP_NET_ADMIN"))
        #expect(try Tool.run(nobody + ["--all"]).status == 4)
        // rtnetlink dumps need no privilege; the rulesets it cannot read become notes.
        let current = try Tool.run(nobody)
        #expect(current.status == 0, "\(current.stderr)")
        #expect(current.stdout.hasPrefix("netns "))
        #expect(current.stdout.contains("  lo "))
    }
}
