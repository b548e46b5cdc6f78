#if os(Linux)
import Foundation
import Glibc
import PathTraceCore
import PathTraceLinux
import TestSupport
import Testing

/// The labs of seeds 000, 002, 003 and 004, built for real in namespaces: each one's traffic gets the
/// answers (or the silence) its seed describes, and teardown leaves no namespace behind, even when a
/// test fails.
@Suite(.serialized, .offPool, .enabled(if: Live.available, "needs root, CAP_NET_ADMIN, iproute2, iptables, nftables"))
struct SeedLabTests {
    static let labs = [
        "qemu-bridge-nat", "qemu-bridge-nat-nft", "qemu-bridge-nat-brnf", "double-nat", "double-nat-nft",
        "double-nat-noforward",
        "veth-traps", "veth-traps-fixed", "lan-dnat-snat", "lan-dnat-snat-nft",
    ]

    /// The lab file, with a prefix of this run's own (`ptsd<pid><letters>`), so a lab a developer left
    /// up cannot collide.
    static func spec(_ name: String) throws -> LabSpec {
        try Fixtures.lab(name, prefix: "ptsd\(getpid())\(LiveLab.letters(Live.next()))")
    }

    /// Builds the lab, starts its servers, runs `body`, and always tears the lab down; then checks
    /// that none of its namespaces is left.
    static func withLab(_ name: String, _ body: (LabSpec, LabBuilder) throws -> Void) throws {
        removeStaleLabs()
        let spec = try spec(name)
        let builder = LabBuilder(spec: spec)
        do {
            defer { builder.down() }
            try builder.up()
            let servers = try LabTraffic.startServer(spec, idle: 10)
            defer { servers?.stop() }
            try body(spec, builder)
        }
        let left = try Live.run(["ip", "netns", "list"]).stdout.split(separator: "\n")
            .filter { $0.hasPrefix("\(spec.prefix)-") }
        #expect(left.isEmpty, "namespaces left: \(left)")
    }

    /// Namespaces of an earlier run that crashed: `ptsd` and the pid of a process that is gone.
    static func removeStaleLabs() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/run/netns") else { return }
        for name in names where name.hasPrefix("ptsd") {
            let digits = name.dropFirst(4).prefix { $0.isNumber }
            guard let pid = Int32(digits), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            for p in (try? Live.run(["ip", "netns", "pids", name]).stdout)?.split(separator: "\n") ?? [] {
                _ = try? Live.run(["kill", "-9", String(p)])
            }
            _ = try? Live.run(["ip", "netns", "del", name])
        }
    }

    /// Each lab's traffic gets what its seed describes: `expect_answer` (who answered, from which
    /// address) or no answer where the lab expects none.
    @Test(arguments: labs) func trafficGetsTheSeedsAnswers(_ name: String) throws {
        try Self.withLab(name) { spec, _ in
            let outcomes = try LabTraffic.exchange(spec)
            #expect(outcomes.count == spec.traffic.count)
            #expect(LabTraffic.problems(spec, outcomes) == [], "\(outcomes.map(\.text))")
        }
    }

    /// Seed 000: the wan server sees the host's outer address after both MASQUERADEs, and each NAT
    /// box's conntrack holds its own translation.
    @Test func doubleNatTranslatesTwice() throws {
        try Self.withLab("double-nat") { spec, _ in
            let answers = try LabTraffic.send(spec)
            #expect(answers[0] == "ok 15 from 198.51.100.1\n")
            let vm1 = try Live.run(["cat", "/proc/net/nf_conntrack"], in: spec.netns("vm1")).stdout
            #expect(vm1.contains("src=192.168.3.2 dst=198.51.100.254 sport=40002 dport=8080 "))
            #expect(vm1.contains("src=198.51.100.254 dst=192.168.33.3 sport=8080 dport=40002 "))
            let host = try Live.run(["cat", "/proc/net/nf_conntrack"], in: spec.netns("host")).stdout
            #expect(host.contains("src=192.168.33.3 dst=198.51.100.254 sport=40002 dport=8080 "))
            #expect(host.contains("src=198.51.100.254 dst=198.51.100.1 sport=8080 dport=40002 "))
        }
    }

    /// Seed 000 with vm1's ip_forward=0: vm2's SYN reaches vm1 and goes no further.
    @Test func noForwardEndsInVm1() throws {
        try Self.withLab("double-nat-noforward") { spec, _ in
            let outcomes = try LabTraffic.exchange(spec)
            #expect(!outcomes[0].answered)
            let vm1 = try Live.run(["cat", "/proc/net/nf_conntrack"], in: spec.netns("vm1")).stdout
            #expect(!vm1.contains("src=192.168.3.2 dst=198.51.100.254 sport=40002 dport=8080 "))
            let host = try Live.run(["cat", "/proc/net/nf_conntrack"], in: spec.netns("host")).stdout
            #expect(!host.contains("dport=40002"))
        }
    }

    /// Seed 003 (a): ARP for 10.1.1.1 out veth2 is never answered (veth1 takes 10.1.1.2 for a martian,
    /// local source); with the seed's fixes the reply comes back over lo.
    @Test func vethPairInOneNamespace() throws {
        try Self.withLab("veth-traps") { spec, _ in
            #expect(try !LabTraffic.exchange(spec)[0].answered)
            let neigh = try Live.run(["ip", "neigh", "show", "10.1.1.1", "dev", "veth2"], in: spec.netns("pair")).stdout
            #expect(neigh.contains("FAILED") || neigh.contains("INCOMPLETE"), "\(neigh)")
        }
        try Self.withLab("veth-traps-fixed") { spec, _ in
            let lo = {
                try Live.run(["cat", "/sys/class/net/lo/statistics/rx_packets"], in: spec.netns("pair")).stdout
            }
            let before = Int(try lo().trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            let outcomes = try LabTraffic.exchange(spec)
            #expect(outcomes[0].text == "reply from 10.1.1.1 ttl 64\n")
            let after = Int(try lo().trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            #expect(after > before)
        }
    }

    /// Seed 004: the LAN client's connection to the host's 8765 is answered by the guest, which sees the
    /// client's own address; the host's conntrack holds the DNAT, and the guest's traffic out is SNATed.
    @Test func lanPortMapReachesTheGuest() throws {
        try Self.withLab("lan-dnat-snat") { spec, _ in
            let answers = try LabTraffic.send(spec)
            #expect(answers[0] == "ok 12 from 192.168.50.5\n")
            #expect(answers[1] == "ok 18 from 192.168.50.6\n")
            let host = try Live.run(["cat", "/proc/net/nf_conntrack"], in: spec.netns("host")).stdout
            #expect(host.contains("src=192.168.50.5 dst=192.168.50.6 sport=41765 dport=8765 "))
            #expect(host.contains("src=10.5.0.11 dst=192.168.50.5 sport=8765 dport=41765 "))
        }
    }
}

/// The seed labs' files, without building them: they decode, differ where they must, and reject bad values.
@Suite struct SeedLabFileTests {
    /// Every lab file decodes, has a prefix of its own, names only known causes, and the nft variants
    /// are their legacy lab with the rules loaded through iptables-nft.
    @Test func labFilesDecodeAndDiffer() throws {
        var prefixes: [String: String] = [:]
        for name in SeedLabTests.labs + ["libvirt-nat", "libvirt-nat-nft"] {
            let spec = try LabSpec.decode(try Data(contentsOf: Fixtures.url("labs/\(name).json")), source: name)
            #expect(spec.name == name)
            #expect(prefixes.updateValue(name, forKey: spec.prefix) == nil, "prefix \(spec.prefix) used twice")
            #expect(!spec.traffic.isEmpty)
            #expect(!spec.expect.isEmpty)
        }
        for name in ["qemu-bridge-nat", "double-nat", "lan-dnat-snat"] {
            let legacy = try LabSpec.decode(try Data(contentsOf: Fixtures.url("labs/\(name).json")), source: name)
            var nft = try LabSpec.decode(
                try Data(contentsOf: Fixtures.url("labs/\(name)-nft.json")), source: "\(name)-nft")
            #expect(nft.rules.allSatisfy { $0.format == "iptables-nft-restore" })
            nft.rules = nft.rules.map {
                var r = $0; r.format = "iptables-restore"; return r
            }
            (nft.name, nft.prefix, nft.description, nft.expect) = (
                legacy.name, legacy.prefix, legacy.description, legacy.expect
            )
            #expect(nft == legacy)
        }
    }

    @Test func newKeysAreValidated() throws {
        var spec = try SeedLabTests.spec("lan-dnat-snat")
        #expect(spec.allServers.count == 2)
        #expect(spec.allTraces.count == 3)
        let cases: [(inout LabSpec) -> Void] = [
            { $0.traffic[0].proto = "sctp" },
            { $0.traffic[0].port = nil },
            { $0.traffic[0].dev = "veth0;reboot" },
            { $0.traffic[0].timeout = 0 },
            { $0.servers?[0].proto = "icmp" },
            {
                $0.routes[0].via = nil; $0.routes[0].dev = nil
            },
            { $0.routes[0].dev = "a b" },
            { $0.traces?[0].ns = "elsewhere" },
            { $0.traces?[0].src = "10.0.0.0/33" },
            { $0.expect[0].ns = "elsewhere" },
            { $0.expect[0].vanished = ["gremlins"] },
            { $0.sysctls[0].key = "net..ipv4" },
            { $0.sysctls[0].key = "kernel.panic" },
        ]
        for change in cases {
            var bad = spec
            change(&bad)
            #expect(throws: LabError.self) { try LabSpec.decode(try JSONEncoder().encode(bad), source: "bad") }
        }
        spec.traffic[0].expectFail = true
        let json = String(decoding: try JSONEncoder().encode(spec), as: UTF8.self)
        #expect(json.contains("\"expect_fail\":true"))
    }

    /// `problems` holds a lab's traffic to its `expect_answer` and `expect_fail`.
    @Test func outcomesAreCheckedAgainstTheLab() throws {
        let spec = try SeedLabTests.spec("veth-traps")
        let ok = LabTraffic.Outcome(traffic: spec.traffic[1], answered: true, text: "reply from 10.1.1.1 ttl 64\n")
        let silent = LabTraffic.Outcome(traffic: spec.traffic[0], answered: false, text: "no answer from 10.1.1.1")
        #expect(LabTraffic.problems(spec, [silent, ok]) == [])
        var answeredTrap = silent
        answeredTrap.answered = true
        var wrongPeer = ok
        wrongPeer.text = "reply from 10.1.1.9 ttl 64\n"
        var lost = ok
        lost.answered = false
        #expect(LabTraffic.problems(spec, [answeredTrap, wrongPeer, lost]).count == 3)
    }
}
#endif
