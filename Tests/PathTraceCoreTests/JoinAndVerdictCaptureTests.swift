import PathTraceCore
import TestSupport
import Testing

/// Issue 8 §1 and §3 on captures made in namespaces (`scripts/capture-join-fixtures.sh`, see
/// Fixtures/captures/MONITOR-README.md): one walk per packet although its trace id changes at FORWARD
/// or repeats across packets; verdicts only from evidence.
@Suite struct JoinAndVerdictCaptureTests {
    /// The Docker-like bridge host traced by xtables-monitor and by nft monitor at once.
    static let dockerBridge = [
        "captures/docker-bridge-xtables-monitor.txt", "captures/docker-bridge-nft-monitor.txt",
    ]

    @Test(arguments: dockerBridge)
    func aTraceIDChangeAtForwardIsOneWalkAndMasqueradeLearnsItsAddressFromTheReply(_ file: String) throws {
        let r = try ReplayHarness.run([file])
        #expect(r.skipped.isEmpty)
        // A TCP connection (24 packets both ways) and two echo requests with their replies.
        #expect(r.walks.count == 28)
        #expect(r.stats.incomplete == 0)
        #expect(r.walks.allSatisfy { $0.path == .forward && $0.verdict == .accept })
        #expect(!r.walks.contains { w in w.notes.contains { $0.contains("not where a packet enters") } })

        for proto in [IPProtocol.tcp, IPProtocol.icmp] {
            let first = try #require(r.walks.first { $0.firstHeader?.proto == proto && $0.replyTo == nil })
            // The kernel gave the packet a new id at FORWARD (skb_iif became br0): the capture shows it.
            let ids = Set(first.steps.compactMap(\.event.traceID))
            #expect(ids.count == 2, "\(file) \(proto)")
            #expect(first.steps.first?.hook == .prerouting)
            #expect(first.steps.contains { $0.hook == .forward })
            #expect(first.steps.last?.hook == .postrouting)
            let masq = try #require(first.nat.first, "\(file) \(proto)")
            #expect(first.nat.count == 1)
            #expect(masq.type == .masquerade)
            #expect(masq.field == "src")
            #expect(masq.before.hasPrefix("172.30.0.2"))
            #expect(masq.after?.hasPrefix("10.78.0.1") == true)
            #expect(masq.evidence == .reply)
            let reply = try #require(r.walks.first { $0.replyTo == first.packet })
            #expect(reply.nat.first?.direction == "reply")
        }
    }

    /// The legacy gateway's saved events: a SYN dropped by `-j DROP` in filter INPUT (the trace shows
    /// the rule, not its target) and an echo reply accepted in filter INPUT, after which nothing prints.
    @Test func silenceAfterAMatchedRuleIsADropOnlyIfATableWouldHavePrinted() throws {
        let r = try ReplayHarness.run(["captures/verdicts-legacy.events.jsonl"])
        let syns = r.walks.filter { $0.firstHeader?.dport == 8080 }
        #expect(syns.count == 2)
        for syn in syns {
            #expect(syn.path == .input)
            #expect(syn.verdict == .drop)
            #expect(syn.chainSequence.last == "filter:INPUT:rule:1")
            #expect(syn.steps.last?.verdict == .drop && syn.steps.last?.verdictInferred == true)
            // nat printed at PREROUTING for this first packet: its INPUT chain would have printed next.
            #expect(syn.notes.contains { $0.contains("nat:INPUT would have printed next") }, "\(syn.notes)")
        }
        let reply = try #require(r.walks.first { $0.firstHeader?.icmpType == 0 })
        #expect(reply.path == .input)
        #expect(reply.verdict == .unknown)
        #expect(reply.chainSequence.last == "filter:INPUT:rule:2")
        #expect(reply.steps.last?.verdict == nil)
        #expect(reply.notes.contains { $0.contains("nothing that prints in this input would run after it") })
        // The host's own echo request ends in nat:POSTROUTING's policy: the packet left.
        let request = try #require(r.walks.first { $0.firstHeader?.icmpType == 8 })
        #expect(request.path == .output && request.verdict == .accept)
    }

    @Test func withTheRulesetTheTargetDecides() throws {
        let r = try ReplayHarness.run(
            ["captures/verdicts-legacy.events.jsonl"], rulesets: [(nil, "captures/verdicts-legacy.rules")])
        let syn = try #require(r.walks.first { $0.firstHeader?.dport == 8080 })
        #expect(syn.verdict == .drop)
        #expect(syn.notes.contains { $0.contains("the ruleset's target of filter:INPUT rule 1 drops the packet") })
        let reply = try #require(r.walks.first { $0.firstHeader?.icmpType == 0 })
        #expect(reply.verdict == .accept)
        #expect(reply.steps.last?.verdict == .accept)
    }

    /// Written from nftables' printer (nft ≥ 1.1 prints `conntrack:` records; Debian 12's 1.0.6 does
    /// not): six packets of one TCP connection whose two trace ids alternate, each through a user's
    /// `debug` table and firewall4's base chains at PREROUTING and INPUT.
    @Test func conntrackRecordsAndSeveralBaseChainsPerHookGiveOneWalkPerPacket() throws {
        let r = try ReplayHarness.run(["captures/nft-1.1-conntrack-fw4.txt"])
        #expect(r.skipped.isEmpty)
        #expect(r.walks.count == 6)
        #expect(Set(r.walks.flatMap { $0.steps.compactMap(\.event.traceID) }).count == 2)
        #expect(r.walks.map { $0.firstHeader?.ipID } == [40101, 40102, 40103, 40104, 40105, 40106])
        #expect(r.walks.allSatisfy { $0.path == .input && $0.confidence == 1 })
        let syn = r.walks[0]
        #expect(
            syn.steps.map { "\($0.event.table):\($0.event.chain)" } == [
                "debug:trace_pre", "debug:trace_pre", "fw4:raw_prerouting", "fw4:mangle_prerouting", "fw4:dstnat",
                "fw4:dstnat_lan", "fw4:dstnat", "fw4:input", "fw4:input_lan", "debug:late",
            ])
        #expect(syn.steps.map(\.hook) == Array(repeating: .prerouting, count: 7) + Array(repeating: .input, count: 3))
        // The records belong to the steps after conntrack ran (not raw priority).
        #expect(syn.steps[2].event.header?.conntrack == nil)
        let ct = try #require(syn.steps[3].event.header?.conntrack)
        #expect(ct == ConntrackRecord(state: "new", direction: "original", status: nil, id: 2_946_715_162))
        #expect(r.walks[1].steps[3].event.header?.conntrack?.status == "seen-reply,assured,confirmed")
        // `ct id` ties the later packets to the connection's first.
        #expect(syn.connection == nil)
        #expect(r.walks.dropFirst().allSatisfy { $0.connection == 1 })
        // An accept ends only fw4's input chain: the FIN is dropped by the user's later chain on input.
        #expect(r.walks.map(\.verdict) == [.accept, .accept, .accept, .accept, .drop, .accept])
        let fin = r.walks[4]
        #expect(fin.steps.map(\.verdict).suffix(2) == [.accept, .drop])
        #expect(fin.steps.last.map { "\($0.event.table):\($0.event.chain)" } == "debug:late")
    }
}
