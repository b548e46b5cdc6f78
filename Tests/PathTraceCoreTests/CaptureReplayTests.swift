import PathTraceCore
import TestSupport
import Testing

/// Replays the captures made on the real kernel in namespaces (Fixtures/captures, see its README)
/// and checks what a user would: the walks' steps, order, verdicts and NAT before/after.
@Suite struct CaptureReplayTests {
    /// The line sets of each packet as Fixtures/captures/README.md lists them for one scenario.
    static func expectedLines(section: String) throws -> [[Int]] {
        let text = try Fixtures.text("captures/README.md")
        guard let start = text.range(of: "## \(section)") else { return [] }
        var rows: [[Int]] = []
        for line in text[start.upperBound...].split(separator: "\n") {
            if line.hasPrefix("## ") { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
            guard cells.count > 3, Int(cells[1]) != nil else { continue }
            var lines: [Int] = []
            for part in cells[2].split(separator: ",") {
                let bounds = part.split(separator: "–").compactMap { Int(String($0).trimmingSpaces()) }
                if bounds.count == 2 { lines += Array(bounds[0]...bounds[1]) } else { lines += bounds }
            }
            rows.append(lines)
        }
        return rows
    }

    @Test func libvirtNatWalksMatchTheCaptureNotes() throws {
        let r = try ReplayHarness.run(["captures/libvirt-nat.dmesg"], rulesets: [(nil, "captures/libvirt-nat.rules")])
        #expect(r.skipped.isEmpty)
        #expect(r.walks.map(\.lines) == (try Self.expectedLines(section: "1.")))
        #expect(r.walks.allSatisfy { $0.path == .forward && $0.verdict == .accept && $0.confidence == 1 })
        let syn = r.walks[0]
        #expect(
            syn.chainSequence == [
                "raw:PREROUTING:policy:3", "mangle:PREROUTING:policy:1", "nat:PREROUTING:policy:1",
                "mangle:FORWARD:policy:1", "filter:FORWARD:rule:2", "mangle:POSTROUTING:policy:1",
                "nat:POSTROUTING:rule:3",
            ])
        #expect(syn.steps.compactMap { $0.event.header?.ttl } == [64, 64, 64, 63, 63, 63, 63])
        let masq = try #require(syn.nat.first)
        #expect(syn.nat.count == 1)
        #expect(masq.type == .masquerade)
        #expect(masq.field == "src")
        #expect(masq.before == "192.168.122.17:42954")
        #expect(masq.after == "10.44.0.1:42954")
        #expect(masq.evidence == .reply)
        #expect(masq.rule == .number(3))
        // The SYN ACK: de-NATed by conntrack between mangle:PREROUTING and mangle:FORWARD.
        let reply = r.walks[1]
        #expect(reply.replyTo == 1)
        #expect(reply.nat.first?.direction == "reply")
        #expect(reply.nat.first?.type == .masquerade)
        #expect(reply.nat.first?.before == "10.44.0.1:42954")
        #expect(reply.nat.first?.after == "192.168.122.17:42954")
        #expect(reply.steps[3].event.ruleText?.contains("RELATED,ESTABLISHED") == true)
        #expect(r.walks[2].connection == 1 && r.walks[2].replyTo == nil)
    }

    @Test func kmsgAndDmesgTFormsGiveTheSameWalks() throws {
        let dmesg = try ReplayHarness.run(["captures/libvirt-nat.dmesg"]).walks
        for form in ["captures/libvirt-nat.kmsg", "captures/libvirt-nat.dmesg-T"] {
            let other = try ReplayHarness.run([form])
            #expect(other.skipped.isEmpty, "\(form)")
            #expect(other.walks.map(\.chainSequence) == dmesg.map(\.chainSequence), "\(form)")
            #expect(other.walks.map(\.nat) == dmesg.map(\.nat), "\(form)")
        }
    }

    @Test func interleavedPacketsAreKeyedByHeaderNotAdjacency() throws {
        let r = try ReplayHarness.run(["captures/interleaved.dmesg"])
        let expected = try Self.expectedLines(section: "8.")
        #expect(expected.count > 20)
        #expect(r.walks.map(\.lines) == expected)
        #expect(r.walks.allSatisfy { $0.path == .forward && $0.verdict == .accept })
        #expect(r.stats.incomplete == 0)
    }

    @Test func dnatPortMapWithSnatUserChainsAndLog() throws {
        let r = try ReplayHarness.run(["captures/dnat-portmap.dmesg"], rulesets: [(nil, "captures/dnat-portmap.rules")])
        let first = r.walks[0]
        #expect(
            first.chainSequence == [
                "raw:PREROUTING:policy:3", "mangle:PREROUTING:policy:1", "nat:PREROUTING:rule:1",
                "mangle:FORWARD:policy:1", "filter:FORWARD:rule:1", "filter:AUDIT-FWD:rule:1", "::log:",
                "filter:AUDIT-FWD:return:3", "filter:FORWARD:rule:3", "filter:WEB:rule:1",
                "mangle:POSTROUTING:policy:1", "nat:POSTROUTING:rule:1",
            ])
        #expect(first.lines == Array(1...12))
        #expect(first.steps[4].verdict == .jump("AUDIT-FWD"))
        #expect(first.steps[5].verdict == .continue)
        #expect(first.steps[6].verdict == nil)
        #expect(first.steps[7].verdict == .return)
        #expect(first.steps[8].verdict == .jump("WEB"))
        #expect(first.steps[9].verdict == .accept)
        let dnat = try #require(first.nat.first { $0.type == .dnat })
        #expect(dnat.before == "172.31.1.1:8765")
        #expect(dnat.after == "10.77.0.80:80")
        #expect(dnat.evidence == .observed)
        #expect(dnat.at == "nat:PREROUTING")
        let snat = try #require(first.nat.first { $0.type == .snat })
        #expect(snat.before == "172.31.1.10:41234")
        #expect(snat.after == "10.77.0.1:41234")
        // The LOG rule's line (AUDIT-FWD rule 1) is a step of the packet it logged, carrying its prefix.
        #expect(first.steps[6].event.kind == .log)
        #expect(first.steps[6].event.prefix == "[PT AUDIT] ")
        #expect(first.steps[6].hook == .forward)
        #expect(r.walks.count == 10)
        // A later packet: conntrack applied the DNAT without a nat line.
        let later = try #require(r.walks.first { $0.lines.first == 20 })
        #expect(later.connection == 1)
        #expect(later.nat.first?.at == "conntrack:PREROUTING")
        #expect(later.nat.first?.type == .dnat)
    }

    @Test func dropRejectPolicyDropAndICMPErrors() throws {
        let r = try ReplayHarness.run(["captures/drop.dmesg"], rulesets: [(nil, "captures/drop.rules")])
        let udp = try #require(r.walks.first { $0.firstHeader?.dport == 9999 })
        #expect(udp.verdict == .drop)
        #expect(udp.path == .forward)
        #expect(udp.steps.last?.verdict == .drop)
        #expect(udp.steps.last?.event.ruleText?.contains("DROP") == true)
        let rejected = try #require(r.walks.first { $0.firstHeader?.dport == 9998 })
        #expect(rejected.verdict == .drop)
        #expect(rejected.steps.last?.event.ruleText?.contains("REJECT") == true)
        let toRouter = try #require(r.walks.first { $0.firstHeader?.dport == 9996 })
        #expect(toRouter.path == .input)
        #expect(toRouter.verdict == .drop)
        #expect(toRouter.steps.last?.event.kind == .policy)
        let unreachable = try #require(r.walks.first { $0.firstHeader?.icmpType == 3 && $0.firstHeader?.icmpCode == 3 })
        #expect(unreachable.firstHeader?.embedded?.dport == 9998)
        #expect(unreachable.path == .output)
        #expect(r.walks.contains { $0.firstHeader?.icmpType == 11 })
    }

    @Test func locallyGeneratedTrafficWithUIDAndOutputDNAT() throws {
        let r = try ReplayHarness.run(["captures/output.dmesg"])
        let first = try #require(r.walks.first)
        #expect(first.path == .output)
        #expect(first.steps.first?.event.chain == "OUTPUT")
        #expect(first.steps.first?.event.header?.uid == 0)
        #expect(r.walks.contains { $0.steps.contains { $0.event.header?.uid == 65534 } })
        let dnat = try #require(r.walks.lazy.flatMap(\.nat).first { $0.at == "nat:OUTPUT" })
        #expect(dnat.type == .dnat)
        #expect(dnat.before == "172.31.4.80:8080")
        #expect(dnat.after == "172.31.4.20:80")
        #expect(dnat.evidence == .observed)
    }

    @Test func ipv6ForwardingWithDNATAndMasquerade() throws {
        let r = try ReplayHarness.run(["captures/ipv6.dmesg"], rulesets: [(nil, "captures/ipv6.rules")])
        #expect(r.skipped.isEmpty)
        let syn = try #require(r.walks.first)
        #expect(syn.family == .ipv6)
        #expect(syn.firstHeader?.src?.description == "fd00:1::10")
        #expect(syn.steps.compactMap { $0.event.header?.ttl }.first == 64)
        #expect(syn.steps.compactMap { $0.event.header?.ttl }.last == 63)
        #expect(syn.nat.first?.type == .masquerade)
        #expect(syn.nat.first?.after == "[fd00:2::1]:43000")
        let dnat = try #require(r.walks.lazy.flatMap(\.nat).first { $0.type == .dnat && $0.evidence == .observed })
        #expect(dnat.before == "[fd00:1::1]:8080")
        #expect(dnat.after == "[fd00:2::20]:80")
        #expect(r.walks.contains { $0.firstHeader?.proto == IPProtocol.icmpv6 })
    }

    @Test func brNetfilterWalksAreBridged() throws {
        let r = try ReplayHarness.run(["captures/bridge.dmesg"])
        #expect(r.walks.count == 4)
        #expect(r.walks.allSatisfy { $0.path == .bridged && $0.verdict == .accept })
        #expect(r.walks[0].steps.contains { $0.event.physIn != nil && $0.event.physOut != nil })
    }

    @Test func logLinesKeepTheirPrefixes() throws {
        let r = try ReplayHarness.run(["captures/log-rules.dmesg"])
        let prefixes = Set(r.walks.compactMap { $0.steps.first?.event.prefix })
        #expect(prefixes.contains("[PT BLOCK] "))
        #expect(prefixes.contains("pt nft "))
        #expect(r.walks.allSatisfy { $0.steps.count == 1 && $0.steps[0].event.kind == .log })
        #expect(r.walks.contains { $0.steps[0].event.header?.macSrc != nil })
    }

    @Test func nftMonitorTraceWalks() throws {
        let r = try ReplayHarness.run(["captures/nft-monitor-forward.txt"])
        #expect(r.skipped.isEmpty)
        let syn = try #require(r.walks.first)
        #expect(
            syn.chainSequence.map { $0.split(separator: ":").prefix(3).joined(separator: ":") } == [
                "pt:pre:rule", "pt:pre:rule", "pt:pre:policy", "pt:prerouting:rule", "pt:forward:rule",
                "pt:checks:rule",
                "pt:forward:policy", "pt:postrouting:rule",
            ])
        #expect(syn.steps[4].verdict == .jump("checks"))
        #expect(syn.steps[5].verdict == .return)
        let dnat = try #require(syn.nat.first { $0.type == .dnat })
        #expect(dnat.before == "10.77.1.1:8080")
        #expect(dnat.after == "10.77.2.2:80")
        #expect(dnat.evidence == .observed)
        #expect(syn.nat.contains { $0.type == .masquerade && $0.field == "src" })
        let udp = try #require(r.walks.first { $0.firstHeader?.dport == 5353 })
        #expect(udp.verdict == .drop)
        #expect(udp.steps.last?.verdict == .drop)
        #expect(r.walks.contains { $0.family == .ipv6 && $0.firstHeader?.src?.description == "fd00:77:1::2" })
        // With the ruleset the chain "pre" is known to be a prerouting base chain.
        let withRules = try ReplayHarness.run(
            ["captures/nft-monitor-forward.txt"], rulesets: [(nil, "captures/nft-monitor-forward.ruleset")])
        #expect(withRules.walks.map(\.chainSequence) == r.walks.map(\.chainSequence))
        #expect(withRules.walks.first?.steps.first?.hook == .prerouting)
    }

    /// pathtrace's own nft table (priority raw - 1) before iptables-nft's raw table: an order only a
    /// known priority may refuse, never a guess from a table's name.
    @Test func nftMonitorOfTheNftLab() throws {
        let r = try ReplayHarness.run(["captures/nft-monitor-libvirt-nat-nft.txt"])
        #expect(r.skipped.isEmpty)
        let syn = try #require(r.walks.first)
        #expect(syn.confidence == 1)
        #expect(syn.path == .forward && syn.verdict == .accept)
        var chains: [String] = []
        for step in syn.steps where !step.event.table.hasPrefix("pathtrace_") {
            let name = "\(step.event.table):\(step.event.chain)"
            if chains.last != name { chains.append(name) }
        }
        #expect(
            chains == [
                "raw:PREROUTING", "mangle:PREROUTING", "nat:PREROUTING", "mangle:FORWARD", "filter:FORWARD",
                "mangle:POSTROUTING", "nat:POSTROUTING",
            ])
        #expect(syn.nat.first?.type == .masquerade)
        #expect(syn.nat.first?.evidence == .reply)
    }

    @Test func xtablesMonitorWalks() throws {
        let r = try ReplayHarness.run(["captures/xtables-monitor-forward.txt"])
        #expect(r.skipped.isEmpty)
        let syn = try #require(r.walks.first)
        #expect(syn.path == .forward)
        let dnat = try #require(syn.nat.first { $0.type == .dnat })
        #expect(dnat.after == "10.77.2.2:80")
        #expect(syn.nat.contains { $0.type == .masquerade })
        #expect(r.walks.contains { $0.verdict == .drop && $0.firstHeader?.dport == 5353 })
    }
}

/// The public captures in Fixtures/real-captures, posted by others.
@Suite struct PublicCaptureReplayTests {
    @Test func dockerBridgeWithEbtablesLogLines() throws {
        let r = try ReplayHarness.run(["real-captures/05-docker-bridge-c2c-ebtables-physdev.log"])
        #expect(r.skipped.isEmpty)
        let ip = r.walks.filter { $0.family == .ipv4 }
        #expect(ip.count == 6)
        #expect(ip.allSatisfy { $0.path == .bridged && $0.verdict == .accept })
        #expect(ip[0].steps.first { $0.event.family != .bridge }?.event.physIn == "veth0594f4b")
        #expect(ip[0].chainSequence.contains("filter:DOCKER-USER:return:1"))
        // ebtables LOG lines that look like TRACE are LOG records of the bridge family: bridge steps of
        // the frame's walk, named by their prefix, never TRACE steps and never walks of their own.
        #expect(r.walks.allSatisfy { $0.family == .ipv4 })
        let eb = ip[0].steps.filter { $0.event.family == .bridge }
        #expect(eb.allSatisfy { $0.event.origin == .ebtablesLog && $0.event.kind == .log })
        #expect(eb.first?.event.prefix == "TRACE: eb:broute:BROUTING")
        #expect(eb.first.map { "\($0.event.table):\($0.event.chain)" } == "broute:BROUTING")
    }

    @Test func masqueradeWithItsReply() throws {
        let r = try ReplayHarness.run(["real-captures/07-docker-container-to-external-masquerade.log"])
        let ping = try #require(r.walks.first { $0.family == .ipv4 })
        #expect(ping.path == .forward)
        let masq = try #require(ping.nat.first)
        #expect(masq.field == "src")
        #expect(masq.before == "192.168.0.2")
        #expect(masq.after == "10.171.77.0")
        #expect(masq.evidence == .reply)
        let reply = try #require(r.walks.first { $0.replyTo == ping.packet })
        #expect(reply.nat.first?.before == "10.171.77.0")
        #expect(reply.nat.first?.after == "192.168.0.2")
        #expect(reply.steps.compactMap { $0.event.header?.ttl }.last == 56)
    }

    @Test func vxlanLocalOutAndIn() throws {
        let r = try ReplayHarness.run(["real-captures/08-vxlan-udp-local-out-and-in.log"])
        #expect(r.walks.count == 2)
        #expect(r.walks[0].path == .output)
        #expect(r.walks[1].path == .input)
        #expect(r.walks[1].chainSequence.contains("nat:DOCKER:return:3"))
        #expect(r.walks[1].steps.first?.event.time == 2895.050634)
    }

    @Test func kubernetesClusterIPDNATFromXtablesMonitor() throws {
        let r = try ReplayHarness.run(["real-captures/15-xtables-monitor-k8s-clusterip-output-dnat.log"])
        #expect(r.skipped.isEmpty)
        let syn = try #require(r.walks.first)
        #expect(syn.path == .output)
        let dnat = try #require(syn.nat.first { $0.type == .dnat })
        #expect(dnat.before == "10.43.156.98:9898")
        #expect(dnat.after == "10.42.54.194:9898")
        #expect(dnat.evidence == .observed)
        #expect(dnat.at == "nat:KUBE-SEP-OYNVDBAPYJ623W6H")
        #expect(syn.steps.contains { $0.event.chain == "KUBE-MARK-MASQ" })
        #expect(r.walks.dropFirst().allSatisfy { $0.connection == 1 })
    }
}
