import Foundation
import PathTraceCore
import TestSupport
import Testing

/// Public Docker captures traced with ebtables LOG rules named after their hook (`TRACE: eb:nat:OUTPUT`)
/// beside iptables TRACE: each frame's bridge steps are steps of its one walk, in the kernel's order.
@Suite struct BridgeReplayTests {
    /// 07: a container pings an outside host through docker0 and MASQUERADE; the capture has 74 lines,
    /// of which 24 are ebtables'. One walk for each request and each reply, none incomplete.
    @Test func containerToOutsideIsOneWalkPerPacket() throws {
        let r = try ReplayHarness.run(["real-captures/07-docker-container-to-external-masquerade.log"])
        #expect(r.stats.walks == 6)
        #expect(r.stats.incomplete == 0)
        let requests = r.walks.filter { $0.firstHeader?.icmpType == 8 }
        let replies = r.walks.filter { $0.firstHeader?.icmpType == 0 }
        #expect(requests.count == 3 && replies.count == 3)
        let first = try #require(requests.first)
        #expect(first.family == .ipv4 && first.path == .forward && first.verdict == .accept)
        // br_netfilter runs IP PREROUTING inside the bridge's PREROUTING hook, before bridge INPUT.
        #expect(
            first.stepNames == [
                "bridge broute:BROUTING", "bridge nat:PREROUTING", "raw:PREROUTING", "mangle:PREROUTING",
                "nat:PREROUTING", "bridge filter:INPUT", "mangle:FORWARD", "filter:FORWARD", "filter:DOCKER-USER",
                "filter:FORWARD", "filter:DOCKER-ISOLATION", "filter:FORWARD", "mangle:POSTROUTING",
                "nat:POSTROUTING",
            ])
        #expect(first.steps[0].hook == .brouting)
        let masquerade = try #require(first.nat.first)
        #expect(masquerade.before == "192.168.0.2:94" || masquerade.before == "192.168.0.2")
        #expect(masquerade.after?.hasPrefix("10.171.77.0") == true)
        #expect(masquerade.evidence == .reply)
        // The reply is routed to docker0 and leaves as a local frame of the bridge.
        let reply = try #require(replies.first)
        #expect(reply.replyTo == first.packet)
        #expect(
            Array(reply.stepNames.suffix(4)) == [
                "mangle:POSTROUTING", "bridge nat:OUTPUT", "bridge filter:OUTPUT", "bridge nat:POSTROUTING",
            ])
        #expect(reply.verdict == .accept && reply.path == .forward)
        for walk in r.walks {
            #expect(walk.steps.contains { $0.event.family == .bridge }, "packet \(walk.packet) has its eb steps")
        }
    }

    /// A frame seen only by ebtables, at broute BROUTING and nat POSTROUTING (the other lines of
    /// capture 05 left out): BROUTING is the bridge's PREROUTING, so the frame crossed the bridge.
    @Test func bridgeOnlyFrameFromBroutingToPostroutingIsBridged() throws {
        let lines = try String(
            contentsOf: Fixtures.url("real-captures/05-docker-bridge-c2c-ebtables-physdev.log"), encoding: .utf8
        ).split(separator: "\n")
        let broute = try #require(lines.first { $0.contains("eb:broute:BROUTING") })
        let postrouting = try #require(lines.first { $0.contains("eb:nat:POSTROUTING") })
        let kept = String(broute) + "\n" + String(postrouting) + "\n"
        #expect(kept.contains("eb:broute:BROUTING") && kept.contains("eb:nat:POSTROUTING"))
        let r = try ReplayHarness.run(sources: [MemorySource(name: "bridge-only.log", text: kept)])
        let walk = try #require(r.walks.first)
        #expect(r.walks.count == 1)
        #expect(walk.stepNames == ["bridge broute:BROUTING", "bridge nat:POSTROUTING"])
        #expect(walk.path == .bridged)
        #expect(walk.notes.isEmpty)
    }

    /// 05: container to container across docker0 with br_netfilter: the bridge hands the frame to
    /// IP FORWARD from bridge FORWARD and to IP POSTROUTING after ebtables' nat POSTROUTING.
    @Test func containerToContainerIsBridged() throws {
        let r = try ReplayHarness.run(["real-captures/05-docker-bridge-c2c-ebtables-physdev.log"])
        #expect(r.stats.incomplete == 0)
        #expect(r.walks.count == 6)
        #expect(r.walks.allSatisfy { $0.path == .bridged })
        let first = try #require(r.walks.first)
        let order = first.stepNames
        let at = { (name: String) in order.firstIndex(of: name) ?? -1 }
        #expect(at("bridge nat:PREROUTING") < at("raw:PREROUTING"))
        #expect(at("raw:PREROUTING") < at("bridge filter:FORWARD"))
        #expect(at("bridge filter:FORWARD") < at("filter:FORWARD"))
        #expect(at("filter:FORWARD") < at("bridge nat:POSTROUTING"))
        #expect(at("bridge nat:POSTROUTING") < at("nat:POSTROUTING"))
    }

    /// 06: the host pings a container; its first request is flooded to both ports of docker0 (the
    /// bridge did not know the MAC yet): two copies, each through bridge OUTPUT and POSTROUTING, in one walk.
    @Test func floodedCopiesStayInTheWalk() throws {
        let r = try ReplayHarness.run(["real-captures/06-docker-host-to-container-output-uid.log"])
        #expect(r.stats.incomplete == 0)
        #expect(r.walks.count == 6)
        let first = try #require(r.walks.first)
        #expect(first.path == .output)
        let outs = first.steps.filter { $0.event.family == .bridge && $0.hook == .output }
        #expect(Set(outs.compactMap(\.event.outIface)) == ["veth57a3dec", "veth0594f4b"])
        #expect(first.notes == ["flooded: a copy of the frame left through each of veth57a3dec, veth0594f4b"])
        #expect(r.walks.dropFirst().allSatisfy { !$0.notes.contains { $0.hasPrefix("flooded") } })
        let replies = r.walks.filter { $0.firstHeader?.icmpType == 0 }
        #expect(replies.allSatisfy { $0.path == .input && $0.stepNames.contains("bridge filter:INPUT") })
    }
}

/// The live capture of the `bridge-ebtables-brnf` lab (`BridgeLabTests`, recorded with
/// `PT_RECORD_BRIDGE=1`): iptables TRACE and the bridge tables' LOG records from nfnetlink_log.
@Suite struct BridgeCaptureReplayTests {
    static let capture = "captures/bridge-ebtables-brnf.events.jsonl"

    @Test func eachFrameIsOneWalkInKernelOrder() throws {
        let r = try ReplayHarness.run([Self.capture])
        #expect(r.skipped.isEmpty)
        #expect(r.stats.incomplete == 0)
        let udp = try #require(r.walks.first { $0.firstHeader?.dport == 5001 })
        #expect(udp.path == .bridged && udp.verdict == .accept && udp.family == .ipv4)
        #expect(
            udp.stepNames == [
                "bridge broute:BROUTING", "bridge nat:PREROUTING", "raw:PREROUTING", "LOG", "raw:PREROUTING",
                "nat:PREROUTING", "bridge filter:FORWARD", "filter:FORWARD", "bridge nat:POSTROUTING",
                "nat:POSTROUTING",
            ])
        // nfnetlink_log names the bridge as IN/OUT and the ports as PHYSIN/PHYSOUT.
        let bridgeSteps = udp.steps.filter { $0.event.family == .bridge }
        #expect(bridgeSteps.filter { $0.hook != .postrouting }.allSatisfy { $0.event.physIn == "tap0" })
        #expect(
            bridgeSteps.filter { $0.hook == .forward || $0.hook == .postrouting }.allSatisfy {
                $0.event.physOut == "tap1"
            })
        let syn = try #require(r.walks.first { $0.firstHeader?.dport == 80 && $0.firstHeader?.tcpFlags == .syn })
        #expect(syn.path == .forward)
        #expect(syn.nat.first?.after == "10.180.13.232:43020")
        #expect(syn.nat.first?.evidence == .reply)
        let synAck = try #require(r.walks.first { $0.firstHeader?.tcpFlags == [.syn, .ack] })
        #expect(synAck.replyTo == syn.packet)
        #expect(
            synAck.stepNames.suffix(3) == [
                "bridge filter:OUTPUT", "bridge nat:OUTPUT", "bridge nat:POSTROUTING",
            ])
    }

    /// Frames iptables never sees (ARP: br_netfilter hands only IP to the IP hooks) are walks of the
    /// bridge family, path `bridged`; a broadcast is also passed up to the host after it is flooded.
    @Test func arpOnlyCrossesTheBridge() throws {
        let r = try ReplayHarness.run([Self.capture])
        let arp = r.walks.filter { $0.firstHeader?.macProto == 0x0806 && $0.family == .bridge }
        let request = try #require(arp.first { $0.firstHeader?.macDst == "ff:ff:ff:ff:ff:ff" })
        #expect(request.path == .bridged && request.verdict == .accept)
        #expect(
            request.stepNames == [
                "bridge broute:BROUTING", "bridge nat:PREROUTING", "bridge filter:FORWARD", "bridge nat:POSTROUTING",
                "bridge filter:INPUT",
            ])
        let reply = try #require(arp.first { $0.firstHeader?.macDst == "52:54:98:76:55:30" })
        #expect(reply.path == .bridged)
        #expect(!reply.stepNames.contains("bridge filter:INPUT"))
    }
}

/// `nft monitor trace` of a `bridge` table with `meta nftrace set 1`: the kernel traces the frame
/// through the bridge hooks and, by br_netfilter, the inet hooks; one walk in the kernel's order.
@Suite struct NftBridgeTraceReplayTests {
    @Test func bridgeAndInetChainsAreOneWalk() throws {
        for rulesets in [[], [(table: String?.none, file: "captures/nft-monitor-bridge-brnf.ruleset")]] {
            let r = try ReplayHarness.run(["captures/nft-monitor-bridge-brnf.txt"], rulesets: rulesets)
            #expect(r.stats.walks == 1 && r.stats.incomplete == 0)
            let walk = try #require(r.walks.first)
            #expect(walk.path == .bridged && walk.verdict == .accept && walk.family == .ipv4)
            #expect(
                walk.stepNames == [
                    "bridge brtrace:prerouting", "bridge nat:PREROUTING", "iptrace:prerouting",
                    "bridge brtrace:forward", "bridge filter:FORWARD", "iptrace:forward", "bridge brtrace:postrouting",
                    "bridge nat:POSTROUTING", "iptrace:postrouting",
                ])
        }
    }
}
