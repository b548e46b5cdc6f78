import Foundation
import Glibc
import TestSupport
import Testing

/// `pathtrace lab run` of the mixed-forward lab, as a user runs it: a router with iptables-legacy rules
/// beside a native nft table, where `auto` picks `mixed` and each walk shows both kinds of steps.
@Suite(.serialized, .enabled(if: geteuid() == 0, "needs root to build the lab's namespaces"))
struct MixedCLITests {
    @Test func labRunPicksMixedAndShowsBothRulesetsInOneWalk() throws {
        let prefix = "ptcm\(getpid() % 100_000)"
        let file = try Fixtures.labFile("mixed-forward", prefix: prefix)
        defer {
            _ = try? CLI.run(["lab", "down", file])
            try? FileManager.default.removeItem(atPath: file)
        }
        let r = try CLI.run(["lab", "run", file, "--format", "json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("\(prefix)-gw: backend mixed (iptables-legacy rules beside nft tables: inet userfw"))
        #expect(r.stderr.contains("tracing in netns \(prefix)-gw with mixed, 1 rule(s)"))
        #expect(r.stderr.contains("removed 1 rule, restored 2 sysctls"), "\(r.stderr)")
        #expect(r.stderr.contains("lab check: the trace shows the walk the lab expects"), "\(r.stderr)")
        let walks = try r.stdout.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        let syn = try #require(walks.first)
        let steps = try #require(syn["steps"] as? [[String: Any]])
        var chains: [String] = []
        for step in steps {
            let name = "\(step["table"] ?? ""):\(step["chain"] ?? "")"
            if chains.last != name { chains.append(name) }
        }
        #expect(chains == ["raw:PREROUTING", "filter:FORWARD", "userfw:fw"])
        #expect(
            steps.map { $0["hook"] as? String ?? "" } == ["PREROUTING", "FORWARD", "FORWARD", "FORWARD", "FORWARD"])
        #expect(syn["path"] as? String == "forward" && syn["verdict"] as? String == "accept")
        #expect((syn["traced_from"] as? [String: Any])?["chains"] as? [String] == ["prerouting"])
    }
}
