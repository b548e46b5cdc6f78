#if os(Linux)
import Foundation
import PathTraceCore
import PathTraceLinux
import Testing

/// The follower on a fake runner: a walk with a DNAT adds the reply rules once, its replies are shown,
/// and the session's ruleset snapshot still names the user's raw rules after they moved down.
@Suite struct NatReplyFollowerTests {
    /// Resolves `rule N` of any chain to the text `user rule N`.
    struct Numbered: RuleLookup {
        func resolve(table: String, chain: String, rule: RuleRef, family: Family) -> RuleResolution? {
            guard case .number(let n) = rule else { return nil }
            return RuleResolution(text: "user rule \(n)", target: "ACCEPT", nat: nil)
        }
        func policy(table: String, chain: String, family: Family) -> String? { nil }
    }

    static func walk(packet: Int, src: String, sport: UInt16, dst: String, dport: UInt16, dnatTo: String?)
        -> PacketWalk
    {
        var e = TraceEvent(
            source: SourcePosition(file: "netlink", line: packet), origin: .netlink, family: .ipv4, table: "nat",
            chain: "PREROUTING", kind: .rule)
        var h = PacketHeader()
        h.proto = IPProtocol.tcp
        h.src = IPAddress(src)
        h.sport = sport
        h.dst = IPAddress(dst)
        h.dport = dport
        e.header = h
        var w = PacketWalk(packet: packet, family: .ipv4)
        w.steps = [WalkStep(event: e, hook: .prerouting, verdict: nil, verdictInferred: false)]
        if let dnatTo {
            w.nat = [
                NatRewrite(
                    type: .dnat, field: "dst", before: "\(dst):\(dport)", after: dnatTo, at: "nat:PREROUTING",
                    evidence: .observed)
            ]
        }
        return w
    }

    @Test func aDNATIsFollowedOnce() throws {
        let fake = FakeRunner()
        let installer = RuleInstaller(namespace: .current, runner: fake)
        var f = WalkFilter()
        f.proto = IPProtocol.tcp
        f.dport = PortRange("8080")
        let id = SessionID("f0110") ?? .random()
        let plan = try TraceRulePlan.make(filter: f, backend: .legacy, session: id, families: [.ipv4], replies: true)
        try installer.install(plan)
        let follower = NatReplyFollower(plan: plan, rate: .default, installer: installer)
        let lookup = try #require(follower.adjusting(Numbered()))

        let syn = Self.walk(
            packet: 1, src: "10.0.0.5", sport: 40000, dst: "10.0.0.1", dport: 8080, dnatTo: "172.17.0.2:80")
        let reply = Self.walk(packet: 2, src: "172.17.0.2", sport: 80, dst: "10.0.0.5", dport: 40000, dnatTo: nil)
        #expect(!follower.isFollowedReply(reply))
        #expect(
            lookup.resolve(table: "raw", chain: "PREROUTING", rule: .number(3), family: .ipv4)?.text == "user rule 3")
        #expect(
            follower.observe(syn)
                == "following the replies of DNAT to 172.17.0.2:80 (tcp from 172.17.0.2:80): 2 rule(s) added")
        #expect(installer.installedRules.count == plan.rules.count + 2)
        #expect(follower.observe(syn) == nil)  // once
        #expect(follower.isFollowedReply(reply))
        #expect(follower.sources.count == 1)
        // One reply rule went in at the head of raw PREROUTING: what was rule 3 is rule 4 now.
        #expect(
            lookup.resolve(table: "raw", chain: "PREROUTING", rule: .number(4), family: .ipv4)?.text == "user rule 3")
        #expect(lookup.resolve(table: "raw", chain: "PREROUTING", rule: .number(1), family: .ipv4)?.target == "TRACE")
        #expect(
            lookup.resolve(table: "filter", chain: "FORWARD", rule: .number(4), family: .ipv4)?.text == "user rule 4")

        // A failing install is said once, and not retried.
        let other = Self.walk(
            packet: 3, src: "10.0.0.6", sport: 1, dst: "10.0.0.1", dport: 8080, dnatTo: "172.17.0.3:80")
        fake.failOn = "172.17.0.3/32"
        #expect(follower.observe(other)?.hasPrefix("cannot follow the replies of DNAT to 172.17.0.3:80") == true)
        #expect(follower.observe(other) == nil)
        #expect(installer.installedRules.count == plan.rules.count + 2)

        // After the teardown nothing more is added, and nothing said.
        installer.removeAll()
        let late = Self.walk(
            packet: 4, src: "10.0.0.7", sport: 1, dst: "10.0.0.1", dport: 8080, dnatTo: "172.17.0.4:80")
        #expect(follower.observe(late) == nil)
    }
}
#endif
