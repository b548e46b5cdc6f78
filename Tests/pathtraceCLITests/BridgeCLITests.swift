import Foundation
import TestSupport
import Testing

/// `replay` of a capture with ebtables LOG lines, as a user reads it: bridge steps inside the walk.
@Suite struct BridgeCLITests {
    static let capture = "Fixtures/real-captures/07-docker-container-to-external-masquerade.log"

    /// The JSON marks each bridge step with `family: "bridge"`; IP steps carry no `family`.
    @Test func jsonMarksBridgeSteps() throws {
        let r = try CLI.run(["replay", Self.capture, "--format", "json"])
        #expect(r.status == 0)
        let first = try #require(r.stdout.split(separator: "\n").first)
        let walk = try #require(try JSONSerialization.jsonObject(with: Data(first.utf8)) as? [String: Any])
        #expect(walk["family"] as? String == "ipv4")
        #expect(walk["path"] as? String == "forward")
        let steps = try #require(walk["steps"] as? [[String: Any]])
        let families = steps.map { $0["family"] as? String ?? "-" }
        #expect(families.prefix(3) == ["bridge", "bridge", "-"])
        #expect(steps[0]["hook"] as? String == "BROUTING" && steps[0]["table"] as? String == "broute")
        #expect(steps[0]["kind"] as? String == "log" && steps[0]["verdict"] is NSNull)
        #expect(steps[5]["family"] as? String == "bridge" && steps[5]["chain"] as? String == "INPUT")
        #expect(r.stderr.contains("74 events, 6 walks (0 incomplete)"))
    }

    /// The text timeline names a bridge step `bridge table:CHAIN` under its own hook.
    @Test func textNamesBridgeSteps() throws {
        let r = try CLI.run(["replay", Self.capture])
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines[1].hasPrefix("  BROUTING    bridge broute:BROUTING log"))
        #expect(lines[2].hasPrefix("  PREROUTING  bridge nat:PREROUTING  log"))
        #expect(lines[3].hasPrefix("  PREROUTING  raw:PREROUTING         policy 2     accept*"))
        #expect(lines[3].hasSuffix("TTL 64"))
        #expect(lines[6].hasPrefix("  INPUT       bridge filter:INPUT    log"))
    }
}
