import Foundation
import PathTraceCore
import PathTraceRender
import TestSupport
import Testing

/// nft ≥ 1.1's `conntrack:` records reach the JSON as the step's `ct` object (README, "A step").
@Suite struct ConntrackJSONTests {
    @Test func aStepWithAConntrackRecordCarriesIt() throws {
        let r = try ReplayHarness.run(["captures/nft-1.1-conntrack-fw4.txt"])
        var steps: [[[String: Any]]] = []
        for walk in r.walks.prefix(2) {
            let w = JSONWriter()
            WalkJSON.write(walk, to: w)
            let object = try #require(
                try JSONSerialization.jsonObject(with: Data(String(decoding: w.buffer, as: UTF8.self).utf8))
                    as? [String: Any])
            steps.append(try #require(object["steps"] as? [[String: Any]]))
        }
        // firewall4's raw_prerouting runs before conntrack: no record, no key.
        #expect(steps[0][2]["chain"] as? String == "raw_prerouting" && steps[0][2]["ct"] == nil)
        let syn = try #require(steps[0][3]["ct"] as? [String: Any])
        #expect(syn["state"] as? String == "new")
        #expect(syn["direction"] as? String == "original")
        #expect(syn["status"] is NSNull)
        #expect((syn["id"] as? NSNumber)?.uint32Value == 2_946_715_162)
        let ack = try #require(steps[1][3]["ct"] as? [String: Any])
        #expect(ack["state"] as? String == "established")
        #expect(ack["status"] as? String == "seen-reply,assured,confirmed")
    }
}
